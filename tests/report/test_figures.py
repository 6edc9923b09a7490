"""The report's figures against a reference counted in plain Python on random data."""

from __future__ import annotations

import random
import statistics
from datetime import datetime, timedelta

import pytest
from django.utils import timezone, translation

from scheduler.coordinators.report import rate_text, scenario_report, weekly
from scheduler.models import Activity, PeerMentor, PromptHistory, PromptStatus, Scenario
from tests import factories

WINDOW = timedelta(days=7)


def build(rng: random.Random, now: datetime) -> tuple[list[Scenario], list[PeerMentor]]:
    chapter = factories.chapter()
    mentors = factories.mentors(4, chapter, tokens=0)
    scenarios = [factories.scenario(), factories.scenario()]
    for n in range(80):
        mentor = rng.choice(mentors)
        trigger = factories.activity(mentor, days_ago=rng.uniform(10, 50), contact_ref=f"K{n}")
        status = rng.choice([PromptStatus.DISPATCHED] * 3 + [PromptStatus.FAILED])
        created = now - timedelta(days=rng.uniform(0, 45))
        dispatched = created + timedelta(hours=rng.uniform(0, 5))
        factories.prompt(
            rng.choice(scenarios),
            trigger,
            status=status,
            created_at=created,
            dispatched_at=dispatched if status == PromptStatus.DISPATCHED else None,
            opened_at=dispatched + timedelta(hours=1) if rng.random() < 0.5 else None,
        )
        for _ in range(rng.randint(0, 3)):
            who = mentor if rng.random() < 0.7 else rng.choice(mentors)
            offset = timedelta(days=rng.uniform(-2, 10))
            withdrawn = now if rng.random() < 0.2 else None
            factories.activity(
                who, occurred_at=dispatched + offset, contact_ref=f"K{n}", withdrawn_at=withdrawn
            )
    return scenarios, mentors


def reference(scenario: Scenario, days: int, now: datetime) -> tuple[int, int, int, float | None]:
    since = now - timedelta(days=days)
    sent = opened = followed = 0
    waits: list[float] = []
    for p in PromptHistory.objects.filter(scenario=scenario).select_related("activity"):
        if p.status != PromptStatus.DISPATCHED or p.created_at < since:
            continue
        sent += 1
        opened += p.opened_at is not None
        later = [
            a.occurred_at
            for a in Activity.objects.filter(peer_mentor_id=p.peer_mentor_id)
            if a.contact_ref == p.activity.contact_ref
            and a.withdrawn_at is None
            and p.dispatched_at < a.occurred_at <= p.dispatched_at + WINDOW
        ]
        if later:
            followed += 1
            waits.append((min(later) - p.dispatched_at).total_seconds())
    median = round(statistics.median(waits) / 3600, 1) if waits else None
    return sent, opened, followed, median


@pytest.mark.django_db
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_it_matches_a_plain_python_count_on_random_data(seed: int, settings: object) -> None:
    settings.FOLLOW_UP_WINDOW_DAYS = 7
    now = timezone.now()
    scenarios, _ = build(random.Random(seed), now)
    rows = {row.scenario_id: row.figures for row in scenario_report(days=30, now=now)}
    for scenario in scenarios:
        f = rows[scenario.pk]
        expected = reference(scenario, 30, now)
        assert (f.sent, f.opened, f.followed_up) == expected[:3]
        assert f.median_follow_up_hours == pytest.approx(expected[3], abs=0.051)


@pytest.mark.django_db
def test_it_counts_the_window_withdrawn_and_other_mentors_exactly() -> None:
    now = timezone.now()
    chapter = factories.chapter()
    mentor, other = factories.mentor(chapter), factories.mentor(chapter)
    scenario = factories.scenario()
    sent_at = now - timedelta(days=10)

    def prompt(ref: str, *follow_ups: tuple[PeerMentor, timedelta, bool]) -> None:
        trigger = factories.activity(
            mentor, occurred_at=sent_at - timedelta(days=3), contact_ref=ref
        )
        factories.prompt(scenario, trigger, created_at=sent_at, dispatched_at=sent_at)
        for who, after, withdrawn in follow_ups:
            factories.activity(
                who,
                occurred_at=sent_at + after,
                contact_ref=ref,
                withdrawn_at=now if withdrawn else None,
            )

    prompt("inside", (mentor, timedelta(hours=30), False))
    prompt("too-late", (mentor, timedelta(days=8), False))
    prompt("withdrawn", (mentor, timedelta(hours=5), True))
    prompt("colleague", (other, timedelta(hours=5), False))
    prompt("before", (mentor, timedelta(hours=-1), False))
    [row] = scenario_report(days=30, now=now)
    assert (row.figures.sent, row.figures.followed_up) == (5, 1)
    assert row.figures.median_follow_up_hours == 30.0
    with translation.override("en"):
        assert row.figures.followed_up_text == "1 of 5, 20 %"
    weeks = weekly(None, scenario.pk, 30, now)
    assert sum(f.sent for f in weeks.values()) == 5
    monday = timezone.localdate(sent_at) - timedelta(days=timezone.localdate(sent_at).weekday())
    assert list(weeks) == [monday]


@pytest.mark.django_db
def test_it_lists_scenarios_without_prompts_as_zero() -> None:
    scenario = factories.scenario()
    [row] = scenario_report(days=30)
    assert row.as_dict() == {
        "scenario_id": scenario.pk,
        "name": scenario.name,
        "sent": 0,
        "opened": 0,
        "followed_up": 0,
        "median_follow_up_hours": None,
        "escalated": 0,
    }


def test_it_never_shows_a_rate_without_its_counts() -> None:
    with translation.override("en"):
        assert rate_text(12, 40) == "12 of 40, 30 %"
        assert rate_text(0, 0) == "0 of 0"
