"""Fetching and caching the project's key set: few fetches, no outage turned into a 500."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
import time_machine
from django.test import Client

from scheduler.api import auth
from tests.api.conftest import App, KeySetServer
from tests.api.keys import JWKS_PATH, SigningKey, claims_for
from tests.hang_guard import fails_if_hung
from tests.loopback import Answer

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def status_with(token: str) -> int:
    response = Client().get("/api/v1/prompts", headers={"Authorization": f"Bearer {token}"})
    return response.status_code


def test_it_fetches_the_key_set_once_for_many_requests(app: App, key_server: KeySetServer):
    for _ in range(5):
        assert app.get("/prompts").status_code == 200
    assert key_server.fetches == 1


def test_it_fetches_again_after_the_cache_time(app: App, key_server: KeySetServer) -> None:
    with time_machine.travel(START, tick=False) as clock:
        app.token = key_server.token(app.mentor.auth_user_id, key_server.keys[0])
        assert app.get("/prompts").status_code == 200
        clock.shift(timedelta(seconds=599))
        assert app.get("/prompts").status_code == 200
        assert key_server.fetches == 1
        clock.shift(timedelta(seconds=2))
        assert app.get("/prompts").status_code == 200  # answered with the cached keys
        assert key_server.settled()
        assert key_server.fetches == 2


def test_it_accepts_a_rotated_key_after_one_refetch(
    app: App, key_server: KeySetServer, es_key: SigningKey, spare_key: SigningKey
) -> None:
    assert app.get("/prompts").status_code == 200
    key_server.keys = [es_key, spare_key]  # Supabase published a new key
    rotated = key_server.token(app.mentor.auth_user_id, spare_key)
    assert status_with(rotated) == 200
    assert key_server.fetches == 2
    assert status_with(rotated) == 200
    assert key_server.fetches == 2


def test_it_refetches_at_most_once_a_minute_for_unknown_key_ids(
    app: App, key_server: KeySetServer, spare_key: SigningKey
) -> None:
    def made_up_kid_token() -> str:
        claims_token = key_server.token(app.mentor.auth_user_id, spare_key)
        return spare_key.sign(_claims_of(claims_token), kid=f"made-up-{uuid.uuid4()}")

    with time_machine.travel(START, tick=False) as clock:
        app.token = key_server.token(app.mentor.auth_user_id, key_server.keys[0])
        assert app.get("/prompts").status_code == 200  # the first fetch
        for _ in range(20):
            assert status_with(made_up_kid_token()) == 401
        assert key_server.fetches == 2  # the first fetch did not count: one refetch
        clock.shift(timedelta(seconds=59))
        for _ in range(20):
            assert status_with(made_up_kid_token()) == 401
        assert key_server.fetches == 2
        clock.shift(timedelta(seconds=2))
        for _ in range(20):
            assert status_with(made_up_kid_token()) == 401
        assert key_server.fetches == 3
        assert app.get("/prompts").status_code == 200


def test_it_keeps_using_cached_keys_while_the_key_set_server_is_down(
    app: App, key_server: KeySetServer
) -> None:
    with time_machine.travel(START, tick=False) as clock:
        app.token = key_server.token(app.mentor.auth_user_id, key_server.keys[0])
        assert app.get("/prompts").status_code == 200
        key_server.failing_status = 503
        clock.shift(timedelta(minutes=11))  # the cached keys are due for a refresh
        app.token = key_server.token(app.mentor.auth_user_id, key_server.keys[0])
        assert app.get("/prompts").status_code == 200
        assert key_server.settled()
        assert key_server.fetches == 2
        assert app.get("/prompts").status_code == 200
        assert key_server.settled()
        assert key_server.fetches == 2  # a failed fetch is not retried on every request


def test_it_answers_from_cached_keys_while_a_refresh_trickles(
    app: App, key_server: KeySetServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Long enough that the refresh is surely still running after the requests below.
    monkeypatch.setattr(auth, "FETCH_DEADLINE_SECONDS", 60.0)
    with time_machine.travel(START, tick=False) as clock:
        app.token = key_server.token(app.mentor.auth_user_id, key_server.keys[0])
        assert app.get("/prompts").status_code == 200
        key_server.trickle = 0.2  # the next answer takes minutes to arrive
        clock.shift(timedelta(minutes=11))  # the cached keys are due for a refresh
        with fails_if_hung(30, "a request with a cached key"):
            statuses = [app.get("/prompts").status_code for _ in range(8)]
        assert statuses == [200] * 8
        assert key_server.server.in_flight(JWKS_PATH) == 1  # the refresh is still arriving
        assert key_server.fetches == 2  # one refresh for all eight requests


def test_it_gives_up_a_first_fetch_that_outlasts_its_deadline(
    app: App, key_server: KeySetServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "FETCH_DEADLINE_SECONDS", 0.5)
    key_server.trickle = 0.2  # a byte at a time: each read is quick, the whole answer is not
    with time_machine.travel(START, tick=False) as clock:
        app.token = key_server.token(app.mentor.auth_user_id, key_server.keys[0])
        # Without keys the request waits for the fetch, but only until its deadline.
        with fails_if_hung(30, "a request waiting for the first fetch"):
            assert app.get("/prompts").status_code == 401
        assert key_server.settled()
        key_server.trickle = 0.0
        clock.shift(timedelta(seconds=11))  # past the pause after a failed fetch
        assert app.get("/prompts").status_code == 200
    assert key_server.fetches == 2


def test_it_refuses_a_key_set_larger_than_it_reads(app: App, key_server: KeySetServer) -> None:
    published = {"keys": [key.jwk() for key in key_server.keys], "padding": "x" * 300_000}
    key_server.server.script(JWKS_PATH, Answer(200, published), method="GET")
    assert app.get("/prompts").status_code == 401


def test_it_uses_the_keys_a_background_refresh_brought(
    app: App, key_server: KeySetServer, es_key: SigningKey, spare_key: SigningKey
) -> None:
    with time_machine.travel(START, tick=False) as clock:
        app.token = key_server.token(app.mentor.auth_user_id, es_key)
        assert app.get("/prompts").status_code == 200
        key_server.keys = [es_key, spare_key]  # Supabase published a new key
        clock.shift(timedelta(minutes=11))
        assert app.get("/prompts").status_code == 200  # starts the refresh
        assert key_server.settled()
        assert status_with(key_server.token(app.mentor.auth_user_id, spare_key)) == 200
    assert key_server.fetches == 2  # the new key came with the refresh, not a refetch


def test_it_keeps_cached_keys_when_a_refetch_for_an_unknown_key_fails(
    app: App, key_server: KeySetServer, spare_key: SigningKey
) -> None:
    assert app.get("/prompts").status_code == 200
    key_server.failing_status = 500
    assert status_with(key_server.token(app.mentor.auth_user_id, spare_key)) == 401
    assert key_server.fetches == 2
    assert app.get("/prompts").status_code == 200


def test_it_answers_401_when_no_keys_could_ever_be_fetched(
    app: App, key_server: KeySetServer
) -> None:
    key_server.failing_status = 503
    response = app.get("/prompts")
    assert response.status_code == 401
    assert response.json() == {"detail": "A valid Supabase access token is required."}


def test_it_answers_401_when_the_key_set_server_cannot_be_reached(app: App, settings: Any) -> None:
    # Nothing listens on the discard port: the connection is refused at once.
    settings.SUPABASE_URL = "http://127.0.0.1:9"
    assert app.get("/prompts").status_code == 401


@pytest.mark.parametrize(
    "published",
    [
        b"not json",
        {"keys": "none"},
        {"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"}]},
        ["a", "list"],
    ],
)
def test_it_answers_401_for_a_key_set_it_cannot_use(
    app: App, key_server: KeySetServer, published: Any
) -> None:
    key_server.server.script(JWKS_PATH, Answer(200, published), method="GET")
    assert app.get("/prompts").status_code == 401


def _claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def test_it_never_takes_keys_over_plain_http_from_another_machine(
    app: App, key_server: KeySetServer, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The loopback plays a machine on the way (a proxy) that would gladly hand out keys.
    monkeypatch.setenv("HTTP_PROXY", key_server.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    settings.DEBUG = False
    settings.SUPABASE_URL = "http://abcd.supabase.example"
    app.token = key_server.keys[0].sign(
        claims_for(app.mentor.auth_user_id, "http://abcd.supabase.example/auth/v1")
    )
    assert app.get("/prompts").status_code == 401
    assert key_server.fetches == 0
