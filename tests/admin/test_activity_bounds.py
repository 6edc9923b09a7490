"""An activity's time in the admin: the years 2000 to 2099, and both edges display."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse

from scheduler.models import Activity, PeerMentor
from tests import factories
from tests.admin.conftest import World

FIRST_MOMENT = datetime(2000, 1, 1, 0, 0, tzinfo=UTC)
LAST_MOMENT = datetime(2099, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
OUT_OF_RANGE = "Give a time in the years 2000 to 2099."


def add_activity(client: Client, mentor: PeerMentor, date: str, time: str) -> object:
    form = {
        "peer_mentor": mentor.pk,
        "contact_ref": "K-7",
        "kind": "first_contact",
        "occurred_at_0": date,
        "occurred_at_1": time,
        "notes": "",
    }
    return client.post(reverse("admin:scheduler_activity_add"), form)


@pytest.mark.parametrize(
    ("date", "time"),
    [
        ("0001-01-01", "00:00"),
        ("1999-12-31", "12:00"),
        ("2100-01-01", "12:00"),
        ("9999-12-31", "23:30"),
    ],
)
def test_it_refuses_a_time_outside_the_years_with_a_clear_error(
    superuser_client: Client, world: World, date: str, time: str
) -> None:
    response = add_activity(superuser_client, factories.mentor(world.home), date, time)
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.errors["occurred_at"] == [OUT_OF_RANGE]
    assert "__all__" not in form.errors
    assert not Activity.objects.exists()


def test_it_says_in_norwegian_which_years_are_allowed(
    superuser_client: Client, world: World
) -> None:
    superuser_client.defaults["HTTP_ACCEPT_LANGUAGE"] = "nb"
    response = add_activity(superuser_client, factories.mentor(world.home), "1999-12-31", "12:00")
    assert "Oppgi et tidspunkt i årene 2000 til 2099." in response.content.decode()


def test_it_accepts_a_time_inside_the_years(superuser_client: Client, world: World) -> None:
    response = add_activity(superuser_client, factories.mentor(world.home), "2099-12-31", "12:00")
    assert response.status_code == 302
    assert Activity.objects.get().occurred_at == datetime(2099, 12, 31, 11, 0, tzinfo=UTC)


@pytest.mark.parametrize("client_name", ["superuser_client", "coordinator_client"])
def test_it_shows_activities_at_both_edges_of_the_years(
    request: pytest.FixtureRequest, world: World, client_name: str
) -> None:
    client: Client = request.getfixturevalue(client_name)
    factories.scenario(chapter=world.home, delay_days=3)
    mentor = factories.mentor(world.home)
    first = factories.activity(mentor, occurred_at=FIRST_MOMENT)
    last = factories.activity(mentor, occurred_at=LAST_MOMENT)
    pages = [
        ("activity_changelist", ()),
        ("activity_changelist", (), {"occurred_at__year": "2100"}),
        ("activity_change", (first.pk,)),
        ("activity_why", (last.pk,)),
        ("activity_change", (last.pk,)),
        ("peermentor_change", (mentor.pk,)),
    ]
    for name, args, *query in pages:
        response = client.get(reverse(f"admin:scheduler_{name}", args=args), *query)
        assert response.status_code == 200, name
    listing = client.get(reverse("admin:scheduler_activity_changelist")).content.decode()
    # Oslo is an hour ahead of UTC: the last moment is already the year 2100 there.
    assert "01/01/2100" in listing
    assert "01/01/2000" in listing
