"""Why / why not: one verdict per enabled scenario, in plain words."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from scheduler.coordinators import explain
from scheduler.models import Activity, ActivityKind, PromptHistory, Scenario
from tests import factories
from tests.admin.conftest import World


@pytest.fixture
def scenario(world: World) -> Scenario:
    return factories.scenario(chapter=world.home, delay_days=3, lookback_days=7)


def verdict(activity: Activity, scenario: Scenario) -> explain.Verdict:
    (only,) = explain.explain(activity, [scenario])
    return only


def test_it_says_due_now(world: World, scenario: Scenario) -> None:
    activity = factories.activity(factories.mentor(world.home), days_ago=3.1)
    assert verdict(activity, scenario).state == explain.DUE_NOW


def test_it_says_when_a_prompt_will_be_due(world: World, scenario: Scenario) -> None:
    activity = factories.activity(factories.mentor(world.home), days_ago=1)
    result = verdict(activity, scenario)
    assert result.state == explain.DUE_LATER
    assert result.message.startswith("Due on ")


def test_it_says_already_prompted_with_the_row(world: World, scenario: Scenario) -> None:
    mentor = factories.mentor(world.home)
    activity = factories.activity(mentor, days_ago=3.1)
    row = PromptHistory.objects.create(peer_mentor=mentor, scenario=scenario, activity=activity)
    result = verdict(activity, scenario)
    assert (result.state, result.history) == (explain.PROMPTED, row)


def test_it_says_cancelled_by_a_later_activity(world: World, scenario: Scenario) -> None:
    mentor = factories.mentor(world.home)
    activity = factories.activity(mentor, days_ago=3.1, contact_ref="C-1")
    factories.activity(mentor, days_ago=1, contact_ref="C-1", kind=ActivityKind.FOLLOW_UP)
    assert verdict(activity, scenario).message.startswith("Cancelled because a later activity")


def test_it_says_the_mentor_is_paused(world: World, scenario: Scenario) -> None:
    mentor = factories.mentor(world.home, prompts_paused_until=timezone.now() + timedelta(days=2))
    activity = factories.activity(mentor, days_ago=3.1)
    assert "paused prompts until" in verdict(activity, scenario).message


def test_it_says_the_mentor_is_inactive(world: World, scenario: Scenario) -> None:
    activity = factories.activity(factories.mentor(world.home, is_active=False), days_ago=3.1)
    assert verdict(activity, scenario).message == "The mentor is inactive."


def test_it_says_there_is_no_active_device(world: World, scenario: Scenario) -> None:
    activity = factories.activity(factories.mentor(world.home, tokens=0), days_ago=3.1)
    assert "no active device" in verdict(activity, scenario).message


def test_it_says_too_late(world: World, scenario: Scenario) -> None:
    activity = factories.activity(factories.mentor(world.home), days_ago=11)
    assert verdict(activity, scenario).message.startswith("Too late")


def test_it_says_quiet_hours(world: World, scenario: Scenario, settings: object) -> None:
    settings.QUIET_HOURS = (time(0, 0), time(23, 59, 59))  # type: ignore[attr-defined]
    activity = factories.activity(factories.mentor(world.home), days_ago=3.1)
    assert "quiet hours" in verdict(activity, scenario).message


def test_it_says_the_scenario_does_not_apply(world: World, scenario: Scenario) -> None:
    activity = factories.activity(
        factories.mentor(world.home), days_ago=3.1, kind=ActivityKind.HOME_VISIT
    )
    assert verdict(activity, scenario).message == "Does not apply: it is not a first contact."


def test_it_runs_one_query_per_scenario_plus_two(
    world: World, scenario: Scenario, django_assert_num_queries: object
) -> None:
    other = factories.scenario(chapter=None)
    activity = factories.activity(factories.mentor(world.home), days_ago=3.1)
    with django_assert_num_queries(4):  # type: ignore[operator]
        explain.explain(activity, [scenario, other])


def test_it_shows_verdicts_on_the_activity_page(
    coordinator_client: Client, world: World, scenario: Scenario
) -> None:
    activity = factories.activity(factories.mentor(world.home), days_ago=3.1)
    page = coordinator_client.get(reverse("admin:scheduler_activity_change", args=[activity.pk]))
    assert "Due now: the next dispatch run sends it." in page.content.decode()


def test_it_links_each_recent_activity_from_the_mentor_page(
    coordinator_client: Client, world: World
) -> None:
    mentor = factories.mentor(world.home)
    activity = factories.activity(mentor)
    page = coordinator_client.get(reverse("admin:scheduler_peermentor_change", args=[mentor.pk]))
    assert reverse("admin:scheduler_activity_why", args=[activity.pk]) in page.content.decode()


def test_it_links_an_already_prompted_verdict_to_its_history_row(
    coordinator_client: Client, world: World, scenario: Scenario
) -> None:
    mentor = factories.mentor(world.home)
    activity = factories.activity(mentor, days_ago=3.1)
    row = PromptHistory.objects.create(peer_mentor=mentor, scenario=scenario, activity=activity)
    page = coordinator_client.get(reverse("admin:scheduler_activity_why", args=[activity.pk]))
    assert reverse("admin:scheduler_prompthistory_change", args=[row.pk]) in page.content.decode()


def test_it_hides_other_chapters_scenarios_from_a_coordinators_verdicts(
    coordinator_client: Client, world: World, scenario: Scenario
) -> None:
    factories.scenario(chapter=world.other, name="Bergen only")
    activity = factories.activity(factories.mentor(world.home), days_ago=3.1)
    page = coordinator_client.get(reverse("admin:scheduler_activity_why", args=[activity.pk]))
    assert [v.scenario for v in page.context["verdicts"]] == [scenario]
