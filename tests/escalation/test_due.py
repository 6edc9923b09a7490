"""When an escalation is due: the rule's query, its words and its one definition."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.core import mail
from django.utils import timezone, translation

from scheduler.dispatch.pipeline import run_dispatch
from scheduler.escalation.rule import due_escalations, escalates_at, finished_window
from scheduler.models import Escalation, EscalationStatus, PromptStatus
from scheduler.rules import describe
from tests import factories
from tests.escalation.concerns import (
    AFTER_DAYS,
    DAY,
    coordinator,
    escalating_scenario,
    finished_prompt,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.get_fixed_timezone(60))


def due_ids(scenario, now=NOW) -> set[int]:
    return set(due_escalations(scenario, now).values_list("pk", flat=True))


def test_it_finds_finished_prompts_not_followed_up_within_the_days() -> None:
    chapter = factories.chapter()
    scenario = escalating_scenario()
    due = [
        finished_prompt(scenario, chapter, NOW, status=status)
        for status in (PromptStatus.DISPATCHED, PromptStatus.FAILED, PromptStatus.SKIPPED)
    ]
    finished_prompt(scenario, chapter, NOW, status=PromptStatus.RETRY)
    finished_prompt(scenario, chapter, NOW, finished_days_ago=AFTER_DAYS - 0.01)  # not yet
    finished_prompt(scenario, chapter, NOW, finished_days_ago=AFTER_DAYS + 15)  # past the lookback
    finished_prompt(scenario, chapter, NOW, withdrawn_at=NOW - 9 * DAY)
    followed = finished_prompt(scenario, chapter, NOW)
    factories.activity(
        followed.peer_mentor,
        contact_ref=followed.activity.contact_ref,
        occurred_at=followed.activity.occurred_at + DAY,
    )
    escalated = finished_prompt(scenario, chapter, NOW)
    Escalation.objects.create(prompt=escalated)

    assert due_ids(scenario) == {p.pk for p in due}


def test_it_counts_both_window_ends_inclusive() -> None:
    scenario = escalating_scenario()
    earliest, latest = finished_window(scenario, NOW)
    assert escalates_at(scenario, latest) == NOW
    assert escalates_at(scenario, earliest) == NOW - timedelta(days=14)
    chapter = factories.chapter()
    on_the_edges = [
        finished_prompt(scenario, chapter, NOW, finished_days_ago=AFTER_DAYS),
        finished_prompt(scenario, chapter, NOW, finished_days_ago=AFTER_DAYS + 14),
    ]
    assert due_ids(scenario) == {p.pk for p in on_the_edges}


def test_it_ignores_a_later_activity_that_is_withdrawn_or_in_the_future() -> None:
    scenario = escalating_scenario()
    prompt = finished_prompt(scenario, factories.chapter(), NOW)
    for occurred_at, withdrawn_at in [(NOW - DAY, NOW), (NOW + DAY, None)]:
        factories.activity(
            prompt.peer_mentor,
            contact_ref=prompt.activity.contact_ref,
            occurred_at=occurred_at,
            withdrawn_at=withdrawn_at,
        )
    assert due_ids(scenario) == {prompt.pk}


def test_it_says_the_escalation_at_the_end_of_the_rule_sentence() -> None:
    scenario = factories.scenario(escalate_after_days=5)
    with translation.override("nb"):
        assert describe(scenario).endswith(
            " og varsle koordinator hvis ikke fulgt opp innen 5 dager."
        )
    with translation.override("en"):
        assert describe(scenario).endswith(
            " and tell the coordinators if not followed up within 5 days."
        )
    scenario.escalate_after_days = None
    with translation.override("en"):
        assert "coordinators" not in describe(scenario)


def test_it_escalates_nothing_for_a_scenario_without_escalate_after_days() -> None:
    chapter = factories.chapter()
    coordinator("kari", chapter)
    finished_prompt(factories.scenario(), chapter, NOW)
    run_dispatch(now=NOW)
    assert not Escalation.objects.exists()
    assert mail.outbox == []


def test_it_turns_an_open_escalation_followed_up_once_the_mentor_logs_a_follow_up() -> None:
    chapter = factories.chapter()
    prompt = finished_prompt(escalating_scenario(), chapter, NOW)
    run_dispatch(now=NOW)
    escalation = Escalation.objects.get(prompt=prompt)
    assert escalation.status == EscalationStatus.OPEN

    factories.activity(
        prompt.peer_mentor, contact_ref=prompt.activity.contact_ref, occurred_at=NOW + DAY / 2
    )
    run_dispatch(now=NOW + DAY)

    escalation.refresh_from_db()
    assert escalation.status == EscalationStatus.FOLLOWED_UP
    assert Escalation.objects.count() == 1
