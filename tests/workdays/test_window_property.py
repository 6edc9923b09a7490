"""The set-based working-day window and a brute-force evaluation of each activity
agree, for random calendars: closed periods for every chapter and for one,
activities at any time (weekends, holidays, DST nights), any delay and lookback."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.dispatch.dry_run import TOO_LATE_WITHIN
from scheduler.dispatch.pipeline import run_dispatch
from scheduler.models import ClosedPeriod, DelayUnit
from scheduler.rules import due_activities
from tests import factories as f
from tests.workdays.oracle import days_of, due

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 1, tzinfo=UTC)
TICK = timedelta(microseconds=1)
SPAN_MINUTES = 60 * 24 * 300  # March 2026 to Christmas: both DST changes, Easter, May


@dataclass(frozen=True)
class Period:
    first: date
    days: int
    chapter: int | None  # index into the world's two chapters


@dataclass(frozen=True)
class World:
    periods: list[Period]
    activities: list[tuple[int, int]]  # (mentor index, minutes after START)
    delay: int
    lookback: int
    scenario_chapter: int | None
    now_minutes: int


@st.composite
def worlds(draw: st.DrawFn) -> World:
    periods = draw(
        st.lists(
            st.builds(
                Period,
                first=st.dates(date(2026, 2, 1), date(2026, 12, 31)),
                days=st.integers(1, 20),
                chapter=st.sampled_from([None, 0, 1]),
            ),
            max_size=4,
        )
    )
    now_minutes = draw(st.integers(60 * 24 * 60, SPAN_MINUTES))
    delay, lookback = draw(st.integers(0, 12)), draw(st.integers(1, 10))
    # Most activities where the window can reach them: up to delay, closures and lookback back.
    reach = 60 * 24 * (lookback + 2 * delay + 10)
    # Spread over the reach (small integers are hypothesis's favourites); some on the hour.
    back = st.integers(0, 2**40).map(lambda m: m % reach)
    near_now = back.map(lambda m: now_minutes - (m - m % 60 if m % 3 else m))
    activities = draw(st.lists(st.tuples(st.integers(0, 3), near_now), min_size=3, max_size=30))
    return World(
        periods=periods,
        activities=activities,
        delay=delay,
        lookback=lookback,
        scenario_chapter=draw(st.sampled_from([None, 0])),
        now_minutes=now_minutes,
    )


def brute_force(
    world: World, mentor_chapter: list[int], earliest: datetime, latest: datetime
) -> set[int]:
    """Each activity on its own: its due time by the day-by-day oracle, in the window?"""
    closed = {
        chapter: set().union(
            set(),
            *(
                days_of(p.first, p.first + timedelta(days=p.days - 1))
                for p in world.periods
                if p.chapter is None or p.chapter == chapter
            ),
        )
        for chapter in (0, 1)
    }
    due_ones = set()
    for i, (mentor, offset) in enumerate(world.activities):
        chapter = mentor_chapter[mentor]
        if world.scenario_chapter is not None and chapter != world.scenario_chapter:
            continue
        at = due(START + timedelta(minutes=offset), world.delay, closed[chapter])
        if earliest <= at <= latest:
            due_ones.add(i)
    return due_ones


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(world=worlds())
def test_it_finds_the_activities_a_brute_force_finds(world: World) -> None:
    now = START + timedelta(minutes=world.now_minutes)
    with transaction.atomic():
        chapters = [f.chapter(), f.chapter()]
        mentor_chapter = [0, 0, 1, 1]
        mentors = [f.mentor(chapters[c], tokens=0) for c in mentor_chapter]
        for p in world.periods:
            ClosedPeriod.objects.create(
                name="stengt",
                first_day=p.first,
                last_day=p.first + timedelta(days=p.days - 1),
                chapter=None if p.chapter is None else chapters[p.chapter],
            )
        rows = [
            f.activity(mentors[m], occurred_at=START + timedelta(minutes=offset))
            for m, offset in world.activities
        ]
        scenario = f.scenario(
            delay_days=world.delay,
            delay_unit=DelayUnit.WORKING_DAYS,
            lookback_days=world.lookback,
            skip_if_followed_up=False,
            chapter=None if world.scenario_chapter is None else chapters[world.scenario_chapter],
        )
        summary = run_dispatch(dry_run=True, now=now)
        index = {a.pk: i for i, a in enumerate(rows)}
        oldest = now - timedelta(days=world.lookback)
        expected = brute_force(world, mentor_chapter, oldest, now)
        assert {index[p.activity_id] for p in summary.prompts} == expected
        # The run's own query, without the dry run's day of "too late" before the window.
        assert {index[pk] for pk in due_activities(scenario, now).values_list("pk", flat=True)} == (
            expected
        )
        too_late = brute_force(world, mentor_chapter, oldest - TOO_LATE_WITHIN, oldest - TICK)
        assert summary.too_late == len(too_late)
        transaction.set_rollback(True)
