from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from scheduler.push import Delivery, SendOutcome
from scheduler.push.base import ERROR_TEXT_LENGTH
from scheduler.push.supabase import SupabaseBackend
from tests.loopback import Answer, LoopbackServer
from tests.push.conftest import SUPABASE_KEY, SUPABASE_PATH
from tests.push.helpers import message


def send_one(answer: Answer | None, server: LoopbackServer, **fields: Any) -> SendOutcome:
    if answer is not None:
        server.script(SUPABASE_PATH, answer)
    with SupabaseBackend(concurrency=2) as backend:
        return backend.send(message(**fields))


def test_it_posts_the_ids_and_the_device_token_to_the_edge_function(
    supabase: LoopbackServer,
) -> None:
    outcome = send_one(
        None, supabase, token="device-token-xyz98765", prompt_id=41, mentor_id=12, scenario_id=4
    )

    assert outcome == SendOutcome.delivered()
    [request] = supabase.requests
    assert (request.method, request.path) == ("POST", "/functions/v1/dispatch-scenario-prompt")
    assert request.json == {
        "prompt_id": 41,
        "peer_mentor_id": 12,
        "scenario_id": 4,
        "device_token": "device-token-xyz98765",
    }


def test_it_names_the_prompt_in_an_idempotency_key(supabase: LoopbackServer) -> None:
    send_one(None, supabase, prompt_id=41)

    [request] = supabase.requests
    assert request.header("Idempotency-Key") == "prompt-41"


def test_it_sends_a_test_prompt_without_a_prompt_id_or_idempotency_key(
    supabase: LoopbackServer,
) -> None:
    send_one(None, supabase, prompt_id=None)

    [request] = supabase.requests
    assert request.json["prompt_id"] is None
    assert request.header("Idempotency-Key") is None


def test_it_authenticates_with_the_service_role_key_in_both_headers(
    supabase: LoopbackServer,
) -> None:
    send_one(None, supabase)

    [request] = supabase.requests
    assert request.header("Authorization") == f"Bearer {SUPABASE_KEY}"
    assert request.header("apikey") == SUPABASE_KEY
    assert request.header("Content-Type") == "application/json"


SECRET_KEY = "sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz"


def test_it_sends_a_secret_key_as_apikey_only(push_settings: Any, supabase: LoopbackServer) -> None:
    push_settings.SUPABASE_SECRET_KEY = SECRET_KEY
    push_settings.SUPABASE_SERVICE_ROLE_KEY = ""

    send_one(None, supabase)

    [request] = supabase.requests
    assert request.header("apikey") == SECRET_KEY
    assert request.header("Authorization") is None


def test_it_prefers_the_secret_key_to_the_legacy_one(
    push_settings: Any, supabase: LoopbackServer
) -> None:
    push_settings.SUPABASE_SECRET_KEY = SECRET_KEY

    send_one(None, supabase)

    [request] = supabase.requests
    assert request.header("apikey") == SECRET_KEY
    assert request.header("Authorization") is None


def test_it_sends_a_secret_key_found_in_the_legacy_setting_the_new_way(
    push_settings: Any, supabase: LoopbackServer
) -> None:
    push_settings.SUPABASE_SECRET_KEY = ""
    push_settings.SUPABASE_SERVICE_ROLE_KEY = f"{SECRET_KEY}\n"

    send_one(None, supabase)

    [request] = supabase.requests
    assert request.header("apikey") == SECRET_KEY
    assert request.header("Authorization") is None


@pytest.mark.parametrize(
    ("secret_key", "service_role_key", "named"),
    [
        (SECRET_KEY, "", "SUPABASE_SECRET_KEY"),
        ("", SUPABASE_KEY, "SUPABASE_SERVICE_ROLE_KEY"),
        ("", SECRET_KEY, "SUPABASE_SERVICE_ROLE_KEY"),
    ],
)
def test_it_names_the_setting_of_the_refused_key(
    push_settings: Any, supabase: LoopbackServer, secret_key: str, service_role_key: str, named: str
) -> None:
    push_settings.SUPABASE_SECRET_KEY = secret_key
    push_settings.SUPABASE_SERVICE_ROLE_KEY = service_role_key

    outcome = send_one(
        Answer(401, {"error": "the apikey header is not one of this project's secret keys"}),
        supabase,
    )

    assert outcome.delivery is Delivery.MISCONFIGURED
    assert f"check {named}." in outcome.error


def test_it_masks_an_echoed_secret_key(push_settings: Any, supabase: LoopbackServer) -> None:
    push_settings.SUPABASE_SECRET_KEY = SECRET_KEY

    outcome = send_one(Answer(401, {"error": f"unknown key {SECRET_KEY}"}), supabase)

    assert SECRET_KEY not in outcome.error
    assert SECRET_KEY[:20] not in outcome.error


def test_it_uses_the_configured_function_name(push_settings: Any, supabase: LoopbackServer) -> None:
    push_settings.SUPABASE_FUNCTION_NAME = "another-function"
    push_settings.SUPABASE_URL = supabase.url + "/"
    supabase.always("/functions/v1/another-function", Answer(200))

    assert send_one(None, supabase).ok
    assert [r.path for r in supabase.requests] == ["/functions/v1/another-function"]


def test_it_reuses_one_pooled_connection_for_a_run(supabase: LoopbackServer) -> None:
    with SupabaseBackend(concurrency=2) as backend:
        for _ in range(5):
            backend.send(message())

    assert len({r.client_port for r in supabase.requests}) == 1


def test_it_sends_from_several_threads_up_to_the_pool_size(supabase: LoopbackServer) -> None:
    supabase.always(SUPABASE_PATH, Answer(200, delay=0.2))
    with SupabaseBackend(concurrency=4) as backend, ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(backend.send, [message(token=f"token-{n:08d}") for n in range(8)]))

    assert all(o.ok for o in outcomes)
    assert supabase.max_in_flight(SUPABASE_PATH) == 4
    assert len({r.client_port for r in supabase.requests}) <= 4
    assert sorted(r.json["device_token"] for r in supabase.requests) == [
        f"token-{n:08d}" for n in range(8)
    ]


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_it_counts_any_2xx_as_delivered(supabase: LoopbackServer, status: int) -> None:
    assert send_one(Answer(status), supabase) == SendOutcome.delivered()


@pytest.mark.parametrize("status", [401, 403])
def test_it_reports_a_refused_key_as_a_misconfiguration(
    supabase: LoopbackServer, status: int
) -> None:
    outcome = send_one(Answer(status, {"msg": "Invalid JWT"}), supabase)

    assert outcome.delivery is Delivery.MISCONFIGURED
    assert "misconfiguration" in outcome.error
    assert "SUPABASE_SERVICE_ROLE_KEY" in outcome.error
    assert "Invalid JWT" in outcome.error
    assert not outcome.token_invalid


def test_it_names_the_function_setting_when_the_function_is_missing(
    supabase: LoopbackServer,
) -> None:
    outcome = send_one(Answer(404, {"error": "Requested function was not found"}), supabase)

    assert outcome.delivery is Delivery.MISCONFIGURED
    assert "SUPABASE_FUNCTION_NAME" in outcome.error


@pytest.mark.parametrize("status", [400, 410, 422])
def test_it_treats_other_client_errors_as_permanent(supabase: LoopbackServer, status: int) -> None:
    outcome = send_one(Answer(status, {"error": "bad device"}), supabase)

    assert outcome.delivery is Delivery.PERMANENT
    assert f"HTTP {status}" in outcome.error
    assert "bad device" in outcome.error


@pytest.mark.parametrize("status", [500, 502, 503, 504, 546])
def test_it_treats_server_and_relay_errors_as_transient(
    supabase: LoopbackServer, status: int
) -> None:
    outcome = send_one(Answer(status, {"message": "Relay Error"}), supabase)

    assert outcome.delivery is Delivery.TRANSIENT
    assert outcome.retry_after is None
    assert f"HTTP {status}" in outcome.error


def test_it_treats_rate_limiting_as_transient(supabase: LoopbackServer) -> None:
    outcome = send_one(Answer(429, headers={"Retry-After": "30"}), supabase)

    assert outcome.delivery is Delivery.TRANSIENT
    assert outcome.retry_after == 30


def test_it_honours_retry_after_in_seconds(supabase: LoopbackServer) -> None:
    outcome = send_one(Answer(503, headers={"Retry-After": "120"}), supabase)

    assert outcome.retry_after == 120


def test_it_honours_retry_after_as_a_date(supabase: LoopbackServer) -> None:
    when = format_datetime(timezone.now() + timedelta(minutes=10), usegmt=True)
    outcome = send_one(Answer(503, headers={"Retry-After": when}), supabase)

    assert outcome.retry_after == pytest.approx(600, abs=5)


def test_it_ignores_a_garbled_retry_after(supabase: LoopbackServer) -> None:
    outcome = send_one(Answer(503, headers={"Retry-After": "soon-ish"}), supabase)

    assert outcome.delivery is Delivery.TRANSIENT
    assert outcome.retry_after is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("99999999999", 21600),
        ("1e12", 21600),
        ("Fri, 31 Dec 9999 23:59:59 GMT", 21600),
        ("-30", 0),
        ("inf", None),
        ("-inf", None),
        ("nan", None),
        ("1e999", None),
    ],
)
def test_it_caps_an_absurd_retry_after_at_the_longest_retry_wait(
    push_settings: Any, supabase: LoopbackServer, header: str, expected: float | None
) -> None:
    push_settings.DISPATCH_RETRY_MAX_SECONDS = 21600
    outcome = send_one(Answer(503, headers={"Retry-After": header}), supabase)

    assert outcome.delivery is Delivery.TRANSIENT
    assert outcome.retry_after == expected


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_it_never_follows_a_redirect(supabase: LoopbackServer, status: int) -> None:
    with LoopbackServer() as elsewhere:
        elsewhere.always("/moved", Answer(200))
        elsewhere.always("/moved", Answer(200), method="GET")
        outcome = send_one(Answer(status, headers={"Location": f"{elsewhere.url}/moved"}), supabase)

        assert elsewhere.requests == []
    assert outcome.delivery is Delivery.MISCONFIGURED
    assert f"HTTP {status}" in outcome.error
    assert "SUPABASE_URL" in outcome.error


def test_it_turns_an_html_gateway_page_into_a_short_error(supabase: LoopbackServer) -> None:
    page = (
        "<html><head><title>502 Bad Gateway</title></head><body>"
        + "<p>cloudflare</p>" * 5000
        + "</body></html>"
    )
    outcome = send_one(Answer(502, page, headers={"Content-Type": "text/html"}), supabase)

    assert outcome.delivery is Delivery.TRANSIENT
    assert "502 Bad Gateway" in outcome.error
    assert "<" not in outcome.error
    assert len(outcome.error) < ERROR_TEXT_LENGTH + 100


def test_it_reads_only_the_start_of_a_huge_body(supabase: LoopbackServer) -> None:
    outcome = send_one(Answer(500, b"x" * 20_000_000), supabase)

    assert outcome.delivery is Delivery.TRANSIENT
    assert len(outcome.error) < ERROR_TEXT_LENGTH + 100


def test_it_survives_a_malformed_json_body(supabase: LoopbackServer) -> None:
    outcome = send_one(
        Answer(400, b'{"error": "trunc', headers={"Content-Type": "application/json"}), supabase
    )

    assert outcome.delivery is Delivery.PERMANENT
    assert '{"error": "trunc' in outcome.error


def test_it_treats_a_slow_answer_as_a_transient_timeout(
    push_settings: Any, supabase: LoopbackServer
) -> None:
    push_settings.PUSH_READ_TIMEOUT_SECONDS = 0.2
    outcome = send_one(Answer(200, delay=2), supabase)

    assert outcome.delivery is Delivery.TRANSIENT
    assert "timed out" in outcome.error


@pytest.mark.parametrize("status", [200, 503])
def test_it_gives_up_on_an_answer_that_trickles_past_the_request_deadline(
    push_settings: Any, supabase: LoopbackServer, status: int
) -> None:
    # Each byte comes well within the read timeout, so only the deadline for the
    # whole request ends this read (it would take the service 50 s to finish).
    push_settings.PUSH_READ_TIMEOUT_SECONDS = 1.0
    push_settings.PUSH_REQUEST_DEADLINE_SECONDS = 1.0
    started = time.monotonic()
    outcome = send_one(Answer(status, b"x" * 100, trickle=0.5), supabase)

    assert time.monotonic() - started < 2.0
    assert outcome.delivery is Delivery.TRANSIENT
    assert "timed out" in outcome.error
    assert "PUSH_REQUEST_DEADLINE_SECONDS" in outcome.error


def test_it_treats_a_dropped_connection_as_transient(supabase: LoopbackServer) -> None:
    outcome = send_one(Answer(drop=True), supabase)

    assert outcome.delivery is Delivery.TRANSIENT
    assert "connection" in outcome.error
    assert len(supabase.requests) == 1  # a POST is never repeated behind the pipeline's back


def test_it_treats_a_refused_connection_as_transient(push_settings: Any) -> None:
    with LoopbackServer() as gone:
        url = gone.url
    push_settings.SUPABASE_URL = url
    push_settings.SUPABASE_SERVICE_ROLE_KEY = SUPABASE_KEY

    with SupabaseBackend() as backend:
        outcome = backend.send(message())

    assert outcome.delivery is Delivery.TRANSIENT


def test_it_masks_a_device_token_echoed_in_an_error(supabase: LoopbackServer) -> None:
    token = "device-token-secret-987654"
    outcome = send_one(Answer(400, {"error": f"unknown token {token}"}), supabase, token=token)

    assert token not in outcome.error
    assert "…987654" in outcome.error


def test_it_masks_an_echoed_key_even_where_the_error_text_is_cut(
    push_settings: Any, supabase: LoopbackServer
) -> None:
    key = "eyJhbGciOiJIUzI1NiJ9." + "k" * 120 + ".signature-part-" + "s" * 60
    push_settings.SUPABASE_SERVICE_ROLE_KEY = key
    # The key starts inside the error text's length and runs past its end.
    echo = "x" * (ERROR_TEXT_LENGTH - 100) + f" bad key {key}"
    outcome = send_one(Answer(400, {"error": echo}), supabase)

    assert outcome.delivery is Delivery.PERMANENT
    assert key[:20] not in outcome.error


@pytest.mark.parametrize("echo", [str.upper, str.swapcase], ids=["upper-cased", "case-swapped"])
def test_it_masks_an_echo_of_the_key_in_another_case(
    supabase: LoopbackServer, caplog: pytest.LogCaptureFixture, echo: Callable[[str], str]
) -> None:
    caplog.set_level(logging.DEBUG)
    outcome = send_one(Answer(400, {"error": f"bad apikey {echo(SUPABASE_KEY)}"}), supabase)

    assert outcome.delivery is Delivery.PERMANENT
    assert "bad apikey" in outcome.error
    assert SUPABASE_KEY.lower() not in outcome.error.lower()
    assert SUPABASE_KEY.lower() not in caplog.text.lower()


def test_it_sends_a_key_without_the_whitespace_it_was_pasted_with(
    push_settings: Any, supabase: LoopbackServer
) -> None:
    push_settings.SUPABASE_SERVICE_ROLE_KEY = f" {SUPABASE_KEY}\n"

    assert send_one(None, supabase).ok
    [request] = supabase.requests
    assert request.header("Authorization") == f"Bearer {SUPABASE_KEY}"
    assert request.header("apikey") == SUPABASE_KEY


def test_it_reports_a_key_with_a_line_break_as_a_misconfiguration_without_quoting_it(
    push_settings: Any, supabase: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    key = "service-role-first-half\nsecond-half"
    push_settings.SUPABASE_SERVICE_ROLE_KEY = key
    outcome = send_one(None, supabase)

    assert outcome.delivery is Delivery.MISCONFIGURED
    assert "key" in outcome.error
    for part in key.split("\n"):
        assert part not in outcome.error
        assert part not in caplog.text
    assert supabase.requests == []


@pytest.mark.parametrize(
    "url", ["http://abcd.supabase.co", "http://10.0.0.5:54321", "ftp://abcd.supabase.co"]
)
def test_it_refuses_to_send_the_key_in_clear_text_off_this_machine(
    push_settings: Any, supabase: LoopbackServer, url: str
) -> None:
    push_settings.SUPABASE_URL = url

    with pytest.raises(ImproperlyConfigured, match="SUPABASE_URL"):
        SupabaseBackend()


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]"])
def test_it_allows_plain_http_to_a_local_supabase(
    push_settings: Any, supabase: LoopbackServer, host: str
) -> None:
    push_settings.SUPABASE_URL = f"http://{host}:54321"

    assert SupabaseBackend().url == f"http://{host}:54321/functions/v1/dispatch-scenario-prompt"


def test_it_never_logs_the_key_or_the_token(
    supabase: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = "device-token-secret-123456"
    send_one(Answer(401, {"error": f"bad key {SUPABASE_KEY} for {token}"}), supabase, token=token)

    assert caplog.records
    assert SUPABASE_KEY not in caplog.text
    assert token not in caplog.text


@pytest.mark.parametrize(
    "setting", ["SUPABASE_URL", "SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_FUNCTION_NAME"]
)
def test_it_refuses_to_start_without_a_setting(
    supabase: LoopbackServer, push_settings: Any, setting: str
) -> None:
    setattr(push_settings, setting, "")

    with pytest.raises(ImproperlyConfigured, match=setting):
        SupabaseBackend()
