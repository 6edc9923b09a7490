"""Escalation counts `escalate_after_days` in the scenario's unit: working days skip Easter."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from scheduler.escalation.rule import due_escalations, escalates_at
from scheduler.models import ClosedPeriod, DelayUnit
from scheduler.rules import describe
from tests import factories
from tests.escalation.concerns import escalating_scenario, finished_prompt

pytestmark = pytest.mark.django_db

OSLO = ZoneInfo("Europe/Oslo")
# Wednesday before Easter 2027: Maundy Thursday 25 March, Good Friday 26 March and
# Easter Monday 29 March are public holidays, so two working days end Wednesday 31 March.
FINISHED = datetime(2027, 3, 24, 10, 0, tzinfo=OSLO)
ESCALATES = datetime(2027, 3, 31, 10, 0, tzinfo=OSLO)


def prompt_finished_before_easter(scenario, chapter):
    days_ago = (ESCALATES - FINISHED).total_seconds() / 86400
    return finished_prompt(scenario, chapter, ESCALATES, finished_days_ago=days_ago)


def due_ids(scenario, now) -> set[int]:
    return set(due_escalations(scenario, now).values_list("pk", flat=True))


def test_it_waits_for_the_second_working_day_after_easter() -> None:
    scenario = escalating_scenario(
        escalate_after_days=2, delay_unit=DelayUnit.WORKING_DAYS, chapter=None
    )
    prompt = prompt_finished_before_easter(scenario, factories.chapter())

    assert escalates_at(scenario, prompt.finished_at, None) == ESCALATES
    # Two 24-hour days would have escalated on Good Friday.
    assert due_ids(scenario, datetime(2027, 3, 26, 12, 0, tzinfo=OSLO)) == set()
    assert due_ids(scenario, datetime(2027, 3, 31, 9, 59, tzinfo=OSLO)) == set()
    assert due_ids(scenario, ESCALATES) == {prompt.pk}


def test_it_counts_24_hour_days_for_a_scenario_in_days() -> None:
    scenario = escalating_scenario(escalate_after_days=2, delay_unit=DelayUnit.DAYS)
    prompt = prompt_finished_before_easter(scenario, factories.chapter())

    assert due_ids(scenario, datetime(2027, 3, 26, 10, 0, tzinfo=OSLO)) == {prompt.pk}


def test_it_skips_the_closed_days_of_the_mentors_chapter_only() -> None:
    scenario = escalating_scenario(
        escalate_after_days=2, delay_unit=DelayUnit.WORKING_DAYS, chapter=None
    )
    closed, open_ = factories.chapter(), factories.chapter()
    ClosedPeriod.objects.create(
        name="Påskestengt",
        first_day=datetime(2027, 3, 30).date(),
        last_day=datetime(2027, 3, 31).date(),
        chapter=closed,
    )
    in_closed = prompt_finished_before_easter(scenario, closed)
    in_open = prompt_finished_before_easter(scenario, open_)

    assert due_ids(scenario, ESCALATES) == {in_open.pk}
    # Closed Tuesday and Wednesday: Thursday 1 and Friday 2 April are its two working days.
    assert due_ids(scenario, datetime(2027, 4, 2, 10, 0, tzinfo=OSLO)) == {in_open.pk, in_closed.pk}


def test_it_says_working_days_in_the_rule_sentence() -> None:
    scenario = escalating_scenario(escalate_after_days=5, delay_unit=DelayUnit.WORKING_DAYS)
    with translation.override("nb"):
        assert "varsle koordinator" in describe(scenario)
        assert "innen 5 virkedager" in describe(scenario)
    with translation.override("en"):
        assert "within 5 working days" in describe(scenario)
