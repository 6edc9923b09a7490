"""POST /api/v1/devices and /devices/unregister."""

from __future__ import annotations

import logging

import pytest

from scheduler.api.devices import UNREGISTERED
from scheduler.models import DEVICE_TOKEN_MAX_LENGTH, DeviceToken
from tests.api.conftest import App

pytestmark = pytest.mark.django_db

TOKEN = "fcm-token-" + "x" * 150


def test_it_registers_a_new_device(app: App) -> None:
    response = app.post("/devices", {"token": TOKEN, "platform": "ios"})
    assert response.status_code == 201
    assert response.json() == {"platform": "ios", "is_active": True}
    device = DeviceToken.objects.get(token=TOKEN)
    assert (device.peer_mentor, device.platform, device.is_active) == (app.mentor, "ios", True)


def test_it_answers_200_when_the_device_is_known(app: App) -> None:
    app.post("/devices", {"token": TOKEN, "platform": "android"})
    response = app.post("/devices", {"token": TOKEN, "platform": "android"})
    assert response.status_code == 200
    assert DeviceToken.objects.filter(token=TOKEN).count() == 1


def test_it_reactivates_a_deactivated_token(app: App) -> None:
    app.post("/devices", {"token": TOKEN, "platform": "android"})
    DeviceToken.objects.filter(token=TOKEN).update(
        is_active=False, deactivation_reason="FCM: UNREGISTERED"
    )
    assert app.post("/devices", {"token": TOKEN, "platform": "android"}).status_code == 200
    device = DeviceToken.objects.get(token=TOKEN)
    assert (device.is_active, device.deactivated_at, device.deactivation_reason) == (
        True,
        None,
        "",
    )


def test_it_moves_a_token_held_by_another_mentor_to_the_caller(app: App, other_app: App):
    other_app.post("/devices", {"token": TOKEN, "platform": "android"})
    assert app.post("/devices", {"token": TOKEN, "platform": "web"}).status_code == 200
    device = DeviceToken.objects.get(token=TOKEN)
    assert (device.peer_mentor, device.platform) == (app.mentor, "web")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"token": "short", "platform": "ios"}, "token"),
        ({"token": "x" * (DEVICE_TOKEN_MAX_LENGTH + 1), "platform": "ios"}, "token"),
        ({"token": "token with spaces", "platform": "ios"}, "token"),
        ({"token": "tøken-ñot-ascii", "platform": "ios"}, "token"),
        ({"token": "token\x00with-nul", "platform": "ios"}, "token"),
        ({"token": 12345678, "platform": "ios"}, "token"),
        ({"token": TOKEN, "platform": "blackberry"}, "platform"),
        ({"token": TOKEN}, "platform"),
        ({"token": TOKEN, "platform": "ios", "owner": 1}, "owner"),
    ],
)
def test_it_refuses_a_bad_device_and_writes_nothing(app: App, body: dict, field: str) -> None:
    response = app.post("/devices", body)
    assert response.status_code == 422
    assert field in [error["field"] for error in response.json()["detail"]]
    assert not DeviceToken.objects.exists()


def test_it_keeps_a_rejected_token_out_of_the_answer(app: App) -> None:
    response = app.post("/devices", {"token": "secret token value", "platform": "ios"})
    assert "secret token value" not in response.content.decode()


def test_it_takes_the_longest_valid_token(app: App) -> None:
    longest = "t" * DEVICE_TOKEN_MAX_LENGTH
    assert app.post("/devices", {"token": longest, "platform": "ios"}).status_code == 201


def test_it_unregisters_the_callers_token(app: App) -> None:
    app.post("/devices", {"token": TOKEN, "platform": "ios"})
    response = app.post("/devices/unregister", {"token": TOKEN})
    assert response.status_code == 204
    device = DeviceToken.objects.get(token=TOKEN)
    assert (device.is_active, device.deactivation_reason) == (False, UNREGISTERED)
    assert device.deactivated_at is not None


def test_it_unregisters_twice_without_change(app: App) -> None:
    app.post("/devices", {"token": TOKEN, "platform": "ios"})
    app.post("/devices/unregister", {"token": TOKEN})
    first = DeviceToken.objects.get(token=TOKEN).deactivated_at
    assert app.post("/devices/unregister", {"token": TOKEN}).status_code == 204
    assert DeviceToken.objects.get(token=TOKEN).deactivated_at == first


def test_it_answers_204_for_an_unknown_token(app: App) -> None:
    assert app.post("/devices/unregister", {"token": TOKEN}).status_code == 204


def test_it_leaves_another_mentors_token_alone(app: App, other_app: App) -> None:
    other_app.post("/devices", {"token": TOKEN, "platform": "ios"})
    assert app.post("/devices/unregister", {"token": TOKEN}).status_code == 204
    device = DeviceToken.objects.get(token=TOKEN)
    assert (device.peer_mentor, device.is_active) == (other_app.mentor, True)


def test_it_refuses_a_malformed_token_to_unregister(app: App) -> None:
    response = app.post("/devices/unregister", {"token": "x" * (DEVICE_TOKEN_MAX_LENGTH + 1)})
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "token"


def test_it_logs_a_move_with_both_mentors_and_never_the_token(
    app: App, other_app: App, caplog: pytest.LogCaptureFixture
) -> None:
    other_app.post("/devices", {"token": TOKEN, "platform": "android"})
    with caplog.at_level(logging.INFO, logger="scheduler.api.devices"):
        app.post("/devices", {"token": TOKEN, "platform": "android"})
    moves = [r for r in caplog.records if r.name == "scheduler.api.devices"]
    assert [r.levelno for r in moves] == [logging.WARNING]
    message = moves[0].getMessage()
    assert f"from peer mentor {other_app.mentor.pk} to peer mentor {app.mentor.pk}" in message
    assert TOKEN not in caplog.text
    assert TOKEN[:20] not in caplog.text


def test_it_logs_no_move_when_the_caller_refreshes_their_own_token(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    app.post("/devices", {"token": TOKEN, "platform": "android"})
    with caplog.at_level(logging.INFO, logger="scheduler.api.devices"):
        assert app.post("/devices", {"token": TOKEN, "platform": "android"}).status_code == 200
    assert not [r for r in caplog.records if r.name == "scheduler.api.devices"]
