"""Rows saved without validation, and dates at the end of the calendar, keep every page working.

The end of the calendar is outside the years an activity may have (a CHECK
constraint); those tests lift the constraint, as a database written before it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse

from scheduler.models import Activity, Scenario
from tests import factories
from tests.admin.conftest import World

FAR_FUTURE = datetime(9999, 12, 31, 12, 0, tzinfo=UTC)
# Oslo is ahead of UTC: from 23:00 these moments have no local time at all.
LAST_HOUR = datetime(9999, 12, 31, 23, 0, tzinfo=UTC)
LAST_SECOND = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
CLIENTS = ["superuser_client", "coordinator_client"]


@pytest.fixture
def bogus(world: World) -> Scenario:
    scenario = factories.scenario(chapter=world.home)
    Scenario.objects.filter(pk=scenario.pk).update(trigger_kind="bogus")
    return scenario


@pytest.fixture
def far_future(world: World, outside_the_bounds: None) -> Activity:
    factories.scenario(chapter=world.home, delay_days=3)
    return factories.activity(factories.mentor(world.home), occurred_at=FAR_FUTURE)


@pytest.fixture(params=CLIENTS)
def client(request: pytest.FixtureRequest) -> Client:
    return request.getfixturevalue(request.param)


def page(client: Client, name: str, *args: object, **query: str) -> str:
    response = client.get(reverse(f"admin:scheduler_{name}", args=args), query)
    assert response.status_code == 200
    return response.content.decode()


def test_it_lists_a_bogus_scenario_as_an_invalid_rule(client: Client, bogus: Scenario) -> None:
    assert "invalid rule: unknown trigger activity" in page(client, "scenario_changelist")


def test_it_opens_a_bogus_scenario(client: Client, bogus: Scenario) -> None:
    assert "invalid rule" in page(client, "scenario_change", bogus.pk)


def test_it_previews_a_bogus_scenario(client: Client, bogus: Scenario) -> None:
    html = page(client, "scenario_preview", bogus.pk, **{"dry-days": "30"})
    assert "invalid rule" in html


def test_it_simulates_a_bogus_scenario(client: Client, bogus: Scenario) -> None:
    query = {"sim-kind": "first_contact", "sim-occurred_at_0": "2030-01-01"}
    html = page(client, "scenario_preview", bogus.pk, **query, **{"sim-occurred_at_1": "10:00"})
    assert "invalid rule" in html


def test_it_explains_an_activity_next_to_a_bogus_scenario(
    client: Client, bogus: Scenario, world: World
) -> None:
    activity = factories.activity(factories.mentor(world.home))
    assert "Invalid rule: unknown trigger activity" in page(client, "activity_why", activity.pk)
    assert "Invalid rule" in page(client, "activity_change", activity.pk)


def test_it_says_in_norwegian_that_the_rule_is_invalid(
    coordinator_client: Client, bogus: Scenario
) -> None:
    response = coordinator_client.get(
        reverse("admin:scheduler_scenario_changelist"), HTTP_ACCEPT_LANGUAGE="nb"
    )
    assert "ugyldig regel" in response.content.decode()


def test_it_opens_an_activity_at_the_end_of_the_calendar(
    client: Client, far_future: Activity
) -> None:
    assert "outside the calendar" in page(client, "activity_change", far_future.pk)


def test_it_explains_an_activity_at_the_end_of_the_calendar(
    client: Client, far_future: Activity
) -> None:
    assert "outside the calendar" in page(client, "activity_why", far_future.pk)


def test_it_explains_an_activity_in_the_last_second_of_the_calendar(
    client: Client, world: World, outside_the_bounds: None
) -> None:
    factories.scenario(chapter=world.home, delay_days=0)
    activity = factories.activity(factories.mentor(world.home), occurred_at=LAST_SECOND)
    assert "Dec. 31, 9999" in page(client, "activity_why", activity.pk)


def test_it_refuses_a_test_activity_at_the_end_of_the_calendar(
    client: Client, world: World
) -> None:
    scenario = factories.scenario(chapter=world.home, delay_days=3)
    query = {"sim-kind": "first_contact", "sim-occurred_at_0": "9999-12-31"}
    html = page(client, "scenario_preview", scenario.pk, **query, **{"sim-occurred_at_1": "10:00"})
    assert "too far in the future" in html
    assert 'id="simulation-result"' not in html


@pytest.mark.parametrize("moment", [LAST_HOUR, LAST_SECOND])
def test_it_lists_activities_in_the_last_hour_of_the_calendar(
    client: Client, world: World, outside_the_bounds: None, moment: datetime
) -> None:
    mentor = factories.mentor(world.home)
    factories.activity(mentor, occurred_at=moment)
    factories.activity(mentor, days_ago=1)
    assert "12/31/9999" in page(client, "activity_changelist")
    assert "Dec. 31, 9999" in page(client, "peermentor_change", mentor.pk)


@pytest.mark.parametrize("query", [{"occurred_at__year": "9999"}, {"occurred_at__year": "0"}])
def test_it_refuses_a_drill_down_past_the_calendar(
    client: Client, far_future: Activity, query: dict[str, str]
) -> None:
    response = client.get(reverse("admin:scheduler_activity_changelist"), query)
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")
