"""An activity's `occurred_at`: within the last year, an offset within ±14:00, kept in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from scheduler.models import Activity
from tests.api.conftest import App
from tests.api.test_activities import activity_body

pytestmark = pytest.mark.django_db


def local_text(moment: datetime, offset: str) -> str:
    """`moment` written with the offset `offset` ("+05:30"), as a phone would send it."""
    sign = -1 if offset.startswith("-") else 1
    hours, minutes = (int(part) for part in offset[1:].split(":"))
    shift = timedelta(hours=hours, minutes=minutes) * sign
    return (moment + shift).replace(tzinfo=None).isoformat(timespec="seconds") + offset


def refused_field(response: object) -> str:
    assert response.status_code == 422  # type: ignore[attr-defined]
    return response.json()["detail"][0]["field"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "occurred_at",
    [
        "0001-01-01T00:00:00+01:00",
        "0001-01-01T00:00:00-01:00",
        "1999-12-31T23:00:00Z",
        (timezone.now() - timedelta(days=366)).isoformat(),
    ],
    ids=["year-1-east", "year-1-west", "1999", "366-days-ago"],
)
def test_it_refuses_a_time_more_than_a_year_ago(app: App, occurred_at: str) -> None:
    response = app.post("/activities", activity_body(occurred_at=occurred_at))
    assert refused_field(response) == "occurred_at"
    assert "more than a year in the past" in response.json()["detail"][0]["message"]
    assert not Activity.objects.exists()


def test_it_accepts_a_time_just_within_the_year(app: App) -> None:
    occurred_at = timezone.now() - timedelta(days=364)
    assert (
        app.post("/activities", activity_body(occurred_at=occurred_at.isoformat())).status_code
        == 201
    )


@pytest.mark.parametrize("offset", ["+16:00", "-18:00", "+23:59", "+14:01", "-14:30"])
def test_it_refuses_an_offset_beyond_fourteen_hours(app: App, offset: str) -> None:
    text = local_text(timezone.now() - timedelta(hours=2), offset)
    response = app.post("/activities", activity_body(occurred_at=text))
    assert refused_field(response) == "occurred_at"
    assert "-14:00 and +14:00" in response.json()["detail"][0]["message"]
    assert not Activity.objects.exists()


@pytest.mark.parametrize("offset", ["+14:00", "-12:00", "+05:45", "-00:30"])
def test_it_accepts_the_offsets_in_use(app: App, offset: str) -> None:
    moment = (timezone.now() - timedelta(hours=3)).replace(microsecond=0)
    response = app.post("/activities", activity_body(occurred_at=local_text(moment, offset)))
    assert response.status_code == 201
    assert Activity.objects.get().occurred_at == moment


def test_it_answers_and_keeps_the_time_in_utc(app: App) -> None:
    moment = (timezone.now() - timedelta(days=2)).replace(microsecond=0)
    body = activity_body(occurred_at=local_text(moment, "+05:30"))
    first = app.post("/activities", body)
    retry = app.post("/activities", body)
    expected = moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    assert first.json()["occurred_at"] == retry.json()["occurred_at"] == expected
    assert Activity.objects.get().occurred_at.utcoffset() == timedelta(0)


def test_it_refuses_a_correction_to_a_time_the_database_cannot_hold(app: App) -> None:
    body = activity_body()
    app.post("/activities", body)
    before = Activity.objects.get().occurred_at
    too_far_east = local_text(timezone.now() - timedelta(hours=2), "+16:00")
    for occurred_at in ["0001-01-01T00:00:00+01:00", too_far_east]:
        response = app.patch(f"/activities/{body['client_id']}", {"occurred_at": occurred_at})
        assert refused_field(response) == "occurred_at"
    assert Activity.objects.get().occurred_at == before
    assert app.patch(f"/activities/{body['client_id']}", {"kind": "phone_call"}).status_code == 200
