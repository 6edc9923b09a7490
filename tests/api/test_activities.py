"""POST/PATCH/DELETE /api/v1/activities."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from scheduler.models import Activity
from tests.api.conftest import App

pytestmark = pytest.mark.django_db


def activity_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "client_id": str(uuid.uuid4()),
        "contact_ref": "K-1042",
        "kind": "first_contact",
        "occurred_at": (timezone.now() - timedelta(hours=2)).isoformat(),
        "wellbeing_concern": True,
        "notes": "Talked about school.\nWill call next week.",
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not ...}


def test_it_logs_an_activity(app: App) -> None:
    body = activity_body()
    response = app.post("/activities", body)
    assert response.status_code == 201
    activity = Activity.objects.get()
    assert response.json()["id"] == activity.pk
    assert response.json()["client_id"] == body["client_id"]
    assert (activity.peer_mentor, activity.contact_ref, activity.kind) == (
        app.mentor,
        "K-1042",
        "first_contact",
    )
    assert activity.wellbeing_concern is True
    assert activity.from_app


def test_it_makes_notes_optional(app: App) -> None:
    assert app.post("/activities", activity_body(notes=...)).status_code == 201
    assert Activity.objects.get().notes == ""


def test_it_returns_the_first_row_when_the_app_retries(app: App) -> None:
    body = activity_body()
    first = app.post("/activities", body)
    again = app.post("/activities", {**body, "notes": "changed on retry"})
    assert again.status_code == 200
    assert again.json() == first.json()
    assert Activity.objects.count() == 1


def test_it_lets_two_mentors_use_the_same_client_id(app: App, other_app: App) -> None:
    body = activity_body()
    assert app.post("/activities", body).status_code == 201
    assert other_app.post("/activities", body).status_code == 201
    assert Activity.objects.count() == 2


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"occurred_at": "2026-01-15T09:30:00"}, "occurred_at"),
        ({"occurred_at": "2026-01-15"}, "occurred_at"),
        ({"occurred_at": 1768466000}, "occurred_at"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"kind": "coffee"}, "kind"),
        ({"contact_ref": "K" * 65}, "contact_ref"),
        ({"contact_ref": ""}, "contact_ref"),
        ({"contact_ref": "   "}, "contact_ref"),
        ({"contact_ref": "K-1\x07"}, "contact_ref"),
        ({"contact_ref": "K-1\ud800"}, "contact_ref"),
        ({"notes": "bell \x07"}, "notes"),
        ({"notes": "nul \x00"}, "notes"),
        ({"notes": "n" * 4001}, "notes"),
        ({"client_id": "not-a-uuid"}, "client_id"),
        ({"client_id": ...}, "client_id"),
        ({"wellbeing_concern": "yes"}, "wellbeing_concern"),
        ({"wellbeing_concern": ...}, "wellbeing_concern"),
        ({"peer_mentor_id": 1}, "peer_mentor_id"),
    ],
)
def test_it_refuses_bad_input_naming_the_field(app: App, overrides: dict, field: str) -> None:
    response = app.post("/activities", activity_body(**overrides))
    assert response.status_code == 422
    assert field in [error["field"] for error in response.json()["detail"]]
    assert not Activity.objects.exists()


def test_it_refuses_a_time_more_than_five_minutes_ahead(app: App) -> None:
    ahead = (timezone.now() + timedelta(minutes=6)).isoformat()
    response = app.post("/activities", activity_body(occurred_at=ahead))
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "occurred_at"
    assert not Activity.objects.exists()


def test_it_allows_a_phone_clock_a_little_ahead(app: App) -> None:
    ahead = (timezone.now() + timedelta(minutes=4)).isoformat()
    assert app.post("/activities", activity_body(occurred_at=ahead)).status_code == 201


def test_it_refuses_a_body_that_is_not_json(app: App) -> None:
    response = app.client.post(
        "/api/v1/activities",
        data="{not json",
        content_type="application/json",
        headers={"Authorization": f"Bearer {app.token}"},
    )
    assert response.status_code in (400, 422)
    assert "detail" in response.json()
    assert not Activity.objects.exists()


def test_it_refuses_an_oversized_body_with_413(app: App) -> None:
    response = app.client.post(
        "/api/v1/activities",
        data='{"notes": "' + "n" * 3_000_000 + '"}',
        content_type="application/json",
        headers={"Authorization": f"Bearer {app.token}"},
    )
    assert response.status_code == 413
    assert response.json() == {"detail": "The request body is too large."}
    assert not Activity.objects.exists()


def test_it_keeps_rejected_values_out_of_the_answer(app: App) -> None:
    response = app.post("/activities", activity_body(notes="private words \x07"))
    assert "private words" not in response.content.decode()


def test_it_corrects_the_fields_given(app: App) -> None:
    body = activity_body()
    app.post("/activities", body)
    response = app.patch(
        f"/activities/{body['client_id']}", {"kind": "phone_call", "wellbeing_concern": False}
    )
    assert response.status_code == 200
    activity = Activity.objects.get()
    assert (activity.kind, activity.wellbeing_concern, activity.contact_ref) == (
        "phone_call",
        False,
        "K-1042",
    )
    assert response.json()["kind"] == "phone_call"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": None}, "kind"),
        ({"occurred_at": "2026-01-15T09:30:00"}, "occurred_at"),
        ({"contact_ref": "K\x1b"}, "contact_ref"),
        ({"client_id": str(uuid.uuid4())}, "client_id"),
    ],
)
def test_it_refuses_a_bad_correction_and_changes_nothing(
    app: App, change: dict, field: str
) -> None:
    body = activity_body()
    app.post("/activities", body)
    before = Activity.objects.values().get()
    response = app.patch(f"/activities/{body['client_id']}", change)
    assert response.status_code == 422
    assert field in [error["field"] for error in response.json()["detail"]]
    assert Activity.objects.values().get() == before


def test_it_refuses_a_client_id_that_is_not_a_uuid_in_the_path(app: App) -> None:
    response = app.patch("/activities/42", {"kind": "phone_call"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "client_id"


def test_it_hides_another_mentors_activity(app: App, other_app: App) -> None:
    body = activity_body()
    other_app.post("/activities", body)
    path = f"/activities/{body['client_id']}"
    assert app.patch(path, {"kind": "phone_call"}).status_code == 404
    assert app.delete(path).status_code == 404
    assert app.delete(path).json() == {"detail": "Not found."}
    activity = Activity.objects.get()
    assert (activity.kind, activity.withdrawn_at) == ("first_contact", None)


def test_it_withdraws_an_activity(app: App) -> None:
    body = activity_body()
    app.post("/activities", body)
    assert app.delete(f"/activities/{body['client_id']}").status_code == 204
    assert Activity.objects.get().withdrawn_at is not None


def test_it_withdraws_twice_without_change(app: App) -> None:
    body = activity_body()
    app.post("/activities", body)
    app.delete(f"/activities/{body['client_id']}")
    first = Activity.objects.get().withdrawn_at
    assert app.delete(f"/activities/{body['client_id']}").status_code == 204
    assert Activity.objects.get().withdrawn_at == first


def test_it_does_not_correct_a_withdrawn_activity(app: App) -> None:
    body = activity_body()
    app.post("/activities", body)
    app.delete(f"/activities/{body['client_id']}")
    assert app.patch(f"/activities/{body['client_id']}", {"kind": "phone_call"}).status_code == 404


def test_it_answers_404_for_an_unknown_activity(app: App) -> None:
    assert app.delete(f"/activities/{uuid.uuid4()}").status_code == 404
