"""Previewing a scenario: a described test activity, and a preview on real data."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from scheduler.models import Activity, DispatchRun, PeerMentor, PromptHistory, Scenario
from scheduler.push import locmem
from tests import factories
from tests.admin.conftest import World


@pytest.fixture
def scenario(world: World) -> Scenario:
    return factories.scenario(
        chapter=world.home, is_enabled=False, delay_days=3, requires_wellbeing_concern=True
    )


def preview(client: Client, scenario: Scenario, **params: Any) -> Any:
    url = reverse("admin:scheduler_scenario_preview", args=[scenario.pk])
    return client.get(url, params)


def simulate(client: Client, scenario: Scenario, days_ago: float, **fields: Any) -> Any:
    at = timezone.localtime() - timedelta(days=days_ago)
    params = {
        "sim-kind": "first_contact",
        "sim-occurred_at_0": at.strftime("%Y-%m-%d"),
        "sim-occurred_at_1": at.strftime("%H:%M:%S"),
        "sim-wellbeing_concern": "on",
        **fields,
    }
    return preview(client, scenario, **{k: v for k, v in params.items() if v is not None})


def test_it_shows_the_phone_text_and_when_a_test_activity_would_be_sent(
    coordinator_client: Client, scenario: Scenario
) -> None:
    response = simulate(coordinator_client, scenario, days_ago=1)
    simulation = response.context["simulation"]
    assert simulation.would_send
    assert "Would be sent on" in simulation.message
    assert scenario.title in response.content.decode()


def test_it_says_a_test_activity_is_due_now(coordinator_client: Client, scenario: Scenario) -> None:
    simulation = simulate(coordinator_client, scenario, days_ago=3.5).context["simulation"]
    assert simulation.message == "Would be sent now, by the next dispatch run."


def test_it_says_why_a_test_activity_without_concern_gets_nothing(
    coordinator_client: Client, scenario: Scenario
) -> None:
    simulation = simulate(
        coordinator_client, scenario, days_ago=1, **{"sim-wellbeing_concern": None}
    ).context["simulation"]
    assert not simulation.would_send
    assert simulation.message == "Does not apply: no wellbeing concern was flagged."


def test_it_says_a_followed_up_test_activity_is_cancelled(
    coordinator_client: Client, scenario: Scenario
) -> None:
    simulation = simulate(
        coordinator_client, scenario, days_ago=1, **{"sim-followed_up": "on"}
    ).context["simulation"]
    assert simulation.message.startswith("Cancelled because a later activity")


def test_it_says_an_old_test_activity_is_too_late(
    coordinator_client: Client, scenario: Scenario
) -> None:
    simulation = simulate(coordinator_client, scenario, days_ago=20).context["simulation"]
    assert simulation.message.startswith("Too late")


def test_it_leaves_nothing_behind_after_a_simulation(
    coordinator_client: Client, scenario: Scenario
) -> None:
    counts = (Activity.objects.count(), PeerMentor.objects.count())
    simulate(coordinator_client, scenario, days_ago=3.5, **{"sim-followed_up": "on"})
    assert (Activity.objects.count(), PeerMentor.objects.count()) == counts


@pytest.fixture
def real_data(world: World, scenario: Scenario) -> dict[str, Activity]:
    mentor = factories.mentor(world.home, name="Kari")
    outsider = factories.mentor(world.other, name="Lars")
    due = factories.activity(mentor, days_ago=3.2, wellbeing_concern=True)
    prompted = factories.activity(mentor, days_ago=5, wellbeing_concern=True)
    PromptHistory.objects.create(peer_mentor=mentor, scenario=scenario, activity=prompted)
    factories.activity(mentor, days_ago=3.2, wellbeing_concern=False)
    factories.activity(outsider, days_ago=3.2, wellbeing_concern=True)
    return {"due": due, "prompted": prompted}


def test_it_lists_what_a_disabled_scenario_would_prompt_now(
    coordinator_client: Client, scenario: Scenario, real_data: dict[str, Activity]
) -> None:
    shown = preview(coordinator_client, scenario, **{"dry-days": 30}).context["real_data"]
    assert [row.activity for row in shown.due] == [real_data["due"]]
    assert shown.due_total == 1


def test_it_counts_what_it_would_have_sent_over_the_last_days(
    coordinator_client: Client, scenario: Scenario, real_data: dict[str, Activity]
) -> None:
    shown = preview(coordinator_client, scenario, **{"dry-days": 30}).context["real_data"]
    assert (shown.would_have_sent, shown.already_prompted) == (2, 1)


def test_it_counts_only_the_chosen_number_of_days(
    coordinator_client: Client, scenario: Scenario, real_data: dict[str, Activity]
) -> None:
    # Due 15 days ago and sendable for 7 more days: inside a 30-day window, not a 1-day one.
    factories.activity(real_data["due"].peer_mentor, days_ago=18, wellbeing_concern=True)
    month = preview(coordinator_client, scenario, **{"dry-days": 30}).context["real_data"]
    day = preview(coordinator_client, scenario, **{"dry-days": 1}).context["real_data"]
    assert (month.would_have_sent, day.would_have_sent) == (3, 2)


def test_it_writes_and_sends_nothing_in_a_preview(
    coordinator_client: Client, scenario: Scenario, real_data: dict[str, Activity]
) -> None:
    before = (PromptHistory.objects.count(), DispatchRun.objects.count(), Activity.objects.count())
    preview(coordinator_client, scenario, **{"dry-days": 30})
    simulate(coordinator_client, scenario, days_ago=3.5)
    after = (PromptHistory.objects.count(), DispatchRun.objects.count(), Activity.objects.count())
    assert after == before
    assert locmem.outbox == []


def test_it_links_the_preview_from_the_change_form(
    coordinator_client: Client, scenario: Scenario
) -> None:
    page = coordinator_client.get(reverse("admin:scheduler_scenario_change", args=[scenario.pk]))
    assert reverse("admin:scheduler_scenario_preview", args=[scenario.pk]) in page.content.decode()


def test_it_keeps_other_chapters_out_of_a_chapterless_preview_on_real_data(
    coordinator_client: Client, world: World
) -> None:
    everyone = factories.scenario(chapter=None)
    factories.activity(factories.mentor(world.other), days_ago=3.2)
    mine = factories.activity(factories.mentor(world.home), days_ago=3.2)
    shown = preview(coordinator_client, everyone, **{"dry-days": 30}).context["real_data"]
    assert [row.activity for row in shown.due] == [mine]
