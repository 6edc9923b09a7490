"""A push service that echoes a device token back, in any case: none of it reaches an error or a log."""

from __future__ import annotations

import json
import logging
import random
import string
from collections.abc import Callable

import pytest

from scheduler.push import Delivery, SendOutcome, get_backend
from scheduler.push.base import SECRET_FRAGMENT_LENGTH
from tests.loopback import Answer, LoopbackServer
from tests.push.conftest import FCM_PATH, SUPABASE_PATH, fcm_error
from tests.push.helpers import message

# FCM registration tokens run to a few hundred characters; some services' run longer.
LONG_TOKEN = "".join(random.Random(7).choices(string.ascii_letters + string.digits + "-_:", k=2000))


def split_by_newlines(token: str) -> str:
    return "\n".join(token[i : i + 64] for i in range(0, len(token), 64))


def unicode_escaped(token: str) -> str:
    return "".join(f"\\u{ord(c):04x}" for c in token)


def escaped_newlines(token: str) -> str:
    return "\\n".join(token[i : i + 76] for i in range(0, len(token), 76))


ECHOES: dict[str, Callable[[str], str]] = {
    "as-is": lambda token: token,
    "split-by-newlines": split_by_newlines,
    "json-unicode-escaped": unicode_escaped,
    "json-escaped-newlines": escaped_newlines,
    "upper-cased": str.upper,
    "lower-cased": str.lower,
    "case-swapped-and-split": lambda token: split_by_newlines(token.swapcase()),
}


def error_body(backend: str, echoed: str) -> bytes:
    """A JSON error body whose message holds `echoed` verbatim (escapes stay escapes)."""
    template = (
        {"error": "unknown device_token PLACEHOLDER"}
        if backend == "supabase"
        else fcm_error(400, "", "The registration token is not valid: PLACEHOLDER")
    )
    placeholder = json.dumps(template)
    return placeholder.replace("PLACEHOLDER", echoed.replace("\n", "\\n")).encode()


def fragments(token: str) -> set[str]:
    """Every run of a fragment's length, lower-cased: look for them in lower-cased text."""
    size, folded = SECRET_FRAGMENT_LENGTH, token.lower()
    return {folded[i : i + size] for i in range(len(folded) - size + 1)}


def leaked(token: str, *texts: str) -> list[str]:
    """The token's fragments found in the texts, in whatever case they were echoed."""
    folded = [text.lower() for text in texts]
    return [f for f in fragments(token) if any(f in text for text in folded)]


@pytest.fixture(params=["supabase", "fcm"])
def backend(request: pytest.FixtureRequest) -> str:
    request.getfixturevalue({"supabase": "supabase", "fcm": "firebase"}[request.param])
    return request.param


def send_echoed(backend: str, server: LoopbackServer, echoed: str, token: str) -> SendOutcome:
    path = {"supabase": SUPABASE_PATH, "fcm": FCM_PATH}[backend]
    headers = {"Content-Type": "application/json"}
    server.script(path, Answer(400, error_body(backend, echoed), headers))
    with get_backend(concurrency=1) as push:
        return push.send(message(token=token))


@pytest.mark.parametrize("echo", ECHOES)
def test_it_leaves_no_fragment_of_a_long_echoed_token_in_the_error_or_the_log(
    backend: str, loopback: LoopbackServer, caplog: pytest.LogCaptureFixture, echo: str
) -> None:
    caplog.set_level(logging.DEBUG)

    outcome = send_echoed(backend, loopback, ECHOES[echo](LONG_TOKEN), LONG_TOKEN)

    assert outcome.delivery is Delivery.PERMANENT
    assert caplog.records, "nothing was logged: the test would prove nothing"
    assert leaked(LONG_TOKEN, outcome.error, caplog.text) == []


def test_it_shows_an_echoed_token_masked_to_its_last_characters(
    backend: str, loopback: LoopbackServer
) -> None:
    outcome = send_echoed(backend, loopback, split_by_newlines(LONG_TOKEN), LONG_TOKEN)

    assert f"…{LONG_TOKEN[-6:]}" in outcome.error


def test_it_masks_a_cut_off_echo_of_the_token(backend: str, loopback: LoopbackServer) -> None:
    outcome = send_echoed(backend, loopback, LONG_TOKEN[:500] + "...", LONG_TOKEN)

    assert leaked(LONG_TOKEN, outcome.error) == []


def test_it_keeps_the_rest_of_the_error_readable(backend: str, loopback: LoopbackServer) -> None:
    outcome = send_echoed(backend, loopback, split_by_newlines(LONG_TOKEN), LONG_TOKEN)

    assert ("unknown device_token" if backend == "supabase" else "registration token") in (
        outcome.error
    )


def test_it_keeps_text_that_shares_fewer_characters_with_the_token_than_a_fragment(
    backend: str, loopback: LoopbackServer
) -> None:
    outcome = send_echoed(backend, loopback, "device-tok abcdef12", "device-token-abcdef123456")

    assert "device-tok abcdef12" in outcome.error


def test_it_shows_an_upper_cased_echo_masked_to_the_tokens_last_characters(
    backend: str, loopback: LoopbackServer
) -> None:
    outcome = send_echoed(backend, loopback, LONG_TOKEN.upper(), LONG_TOKEN)

    assert f"…{LONG_TOKEN[-6:]}" in outcome.error
    assert "unknown device_token" in outcome.error or "registration token" in outcome.error
