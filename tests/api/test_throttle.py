"""API_THROTTLE_RATE: a flood from one phone is cut off; other mentors carry on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from scheduler.api.throttle import parse_rate
from tests.api.conftest import App, KeySetServer

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 28, 12, 0, 30, tzinfo=UTC)


@pytest.fixture
def tight_rate(settings: Any) -> None:
    settings.API_THROTTLE_RATE = "5/m"


def refresh_tokens(key_server: KeySetServer, *apps: App) -> None:
    # Tokens made before the clock moved would look issued in the future.
    for app in apps:
        app.token = key_server.token(app.mentor.auth_user_id, key_server.keys[0])


def test_it_answers_429_to_a_flood_from_one_mentor_only(
    tight_rate: None, app: App, other_app: App, key_server: KeySetServer
) -> None:
    with time_machine.travel(START, tick=False):
        refresh_tokens(key_server, app, other_app)
        statuses = [app.get("/prompts").status_code for _ in range(8)]
        assert statuses == [200] * 5 + [429] * 3
        limited = app.get("/prompts")
        assert limited.json() == {"detail": "Too many requests."}
        assert 1 <= int(limited["Retry-After"]) <= 60
        assert [other_app.get("/prompts").status_code for _ in range(5)] == [200] * 5


def test_it_lets_the_mentor_in_again_next_period(
    tight_rate: None, app: App, key_server: KeySetServer
) -> None:
    with time_machine.travel(START, tick=False) as clock:
        refresh_tokens(key_server, app)
        for _ in range(6):
            app.get("/prompts")
        assert app.get("/prompts").status_code == 429
        clock.shift(timedelta(seconds=60))
        refresh_tokens(key_server, app)
        assert app.get("/prompts").status_code == 200


def test_it_counts_writes_too(tight_rate: None, app: App) -> None:
    body = {"token": "device-token-0001", "platform": "ios"}
    statuses = [app.post("/devices", body).status_code for _ in range(6)]
    assert statuses[-1] == 429


@pytest.mark.parametrize(
    ("text", "expected"), [("120/m", (120, 60)), ("10/s", (10, 1)), ("1000/day", (1000, 86400))]
)
def test_it_reads_the_rate_setting(text: str, expected: tuple[int, int]) -> None:
    assert parse_rate(text) == expected


@pytest.mark.parametrize("text", ["", "many", "10/fortnight", "x/m"])
def test_it_refuses_a_rate_it_cannot_read(text: str) -> None:
    with pytest.raises(ValueError, match="API_THROTTLE_RATE"):
        parse_rate(text)
