"""API_AUTH_FAILURE_RATE: requests that fail to authenticate are limited per client address."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client

from tests.api.conftest import App, KeySetServer
from tests.api.keys import SigningKey

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 28, 12, 0, 30, tzinfo=UTC)
ADDRESS = "203.0.113.7"
OTHER_ADDRESS = "198.51.100.20"


@pytest.fixture
def three_failures_a_minute(settings: Any) -> None:
    settings.API_AUTH_FAILURE_RATE = "3/m"


@pytest.fixture
def clock() -> Any:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def call(token: str | None, address: str = ADDRESS) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return Client(REMOTE_ADDR=address).get("/api/v1/prompts", headers=headers)


@pytest.mark.usefixtures("three_failures_a_minute", "clock", "key_server")
def test_it_answers_429_after_too_many_bad_tokens_from_one_address() -> None:
    statuses = [call(token).status_code for token in ["not-a-jwt", None, "x.y.z", "again"]]
    assert statuses == [401, 401, 401, 429]
    refused = call("not-a-jwt")
    assert refused.json() == {"detail": "Too many requests."}
    assert 1 <= int(refused["Retry-After"]) <= 30
    assert call("not-a-jwt", OTHER_ADDRESS).status_code == 401


@pytest.mark.usefixtures("three_failures_a_minute", "clock")
def test_it_lets_a_linked_mentor_in_from_a_throttled_address(
    key_server: KeySetServer, es_key: SigningKey, app: App
) -> None:
    for _ in range(4):
        call("not-a-jwt")
    app.token = key_server.token(app.mentor.auth_user_id, es_key)
    assert call(app.token).status_code == 200


@pytest.mark.usefixtures("three_failures_a_minute", "clock")
def test_it_throttles_a_user_who_is_no_mentor_and_then_stops_asking_the_database(
    key_server: KeySetServer, es_key: SigningKey, django_assert_num_queries: Any
) -> None:
    unlinked = key_server.token(uuid.uuid4(), es_key)
    assert [call(unlinked).status_code for _ in range(4)] == [403, 403, 403, 429]
    with django_assert_num_queries(0):
        assert call(unlinked).status_code == 429
        assert call("not-a-jwt").status_code == 429


@pytest.mark.usefixtures("three_failures_a_minute", "key_server")
def test_it_takes_failures_again_in_the_next_window(clock: Any) -> None:
    for _ in range(4):
        call("not-a-jwt")
    assert call("not-a-jwt").status_code == 429
    clock.shift(timedelta(seconds=30))
    assert call("not-a-jwt").status_code == 401


@pytest.mark.usefixtures("three_failures_a_minute", "clock", "key_server")
def test_it_logs_the_throttle_once_and_never_the_address(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="scheduler.api.throttle"):
        for _ in range(6):
            call("not-a-jwt")
    warnings = [r for r in caplog.records if r.name == "scheduler.api.throttle"]
    assert len(warnings) == 1
    assert ADDRESS not in caplog.text


@pytest.mark.usefixtures("three_failures_a_minute", "clock", "key_server")
def test_it_counts_failures_per_client_behind_our_proxy(settings: Any) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.2"

    def through_proxy(client_address: str) -> int:
        return (
            Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=client_address)
            .get("/api/v1/prompts", headers={"Authorization": "Bearer not-a-jwt"})
            .status_code
        )

    assert [through_proxy(ADDRESS) for _ in range(4)] == [401, 401, 401, 429]
    # Another client behind the same proxy has its own budget, not the proxy's.
    assert through_proxy(OTHER_ADDRESS) == 401
