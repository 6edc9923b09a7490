"""The dry run's due prompts equal a plain-Python reading of docs/design.md's "due", on random data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.dispatch.pipeline import run_dispatch
from scheduler.dispatch.policy import PAUSED
from scheduler.dispatch.summary import DispatchSummary
from scheduler.models import Activity, ActivityKind, PromptStatus, Scenario
from tests import factories as f

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.get_fixed_timezone(60))
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)
KINDS = list(ActivityKind.values)
CONTACTS = ["contact-a", "contact-b", "contact-c"]
# A due retry and a claim a dead run abandoned come back; the other history does not.
HISTORY_KINDS = [
    PromptStatus.DISPATCHED,
    PromptStatus.FAILED,
    PromptStatus.SKIPPED,
    "retry_later",
    "fresh_claim",
    "retry_due",
    "stale_claim",
]
RETURNING = {"retry_due", "stale_claim"}
STALE_CLAIM = timedelta(seconds=900)


@dataclass(frozen=True)
class MentorSpec:
    chapter: int
    is_active: bool
    paused_until: datetime | None


@dataclass(frozen=True)
class ActivitySpec:
    mentor: int
    contact: str
    kind: str
    occurred_at: datetime
    wellbeing: bool
    withdrawn: bool


@dataclass(frozen=True)
class ScenarioSpec:
    is_enabled: bool
    chapter: int | None
    trigger_kind: str
    delay_days: int
    requires_wellbeing: bool
    skip_if_followed_up: bool
    lookback_days: int


@dataclass(frozen=True)
class World:
    mentors: list[MentorSpec]
    activities: list[ActivitySpec]
    scenarios: list[ScenarioSpec]
    history: dict[tuple[int, int], str]  # (scenario, activity) -> history kind


# Times cluster on whole days and one second either side: the window edges
# (delay + lookback spans 0..8 days); -1 day is a future-dated activity.
edge_offsets = st.builds(
    lambda days, nudge: days * DAY + nudge * SECOND,
    st.integers(min_value=-1, max_value=8),
    st.sampled_from([-1, 0, 0, 1]),
)
any_offset = st.integers(min_value=-86400, max_value=9 * 86400).map(lambda s: timedelta(seconds=s))
times = st.one_of(edge_offsets, edge_offsets, any_offset).map(lambda offset: NOW - offset)
# Mostly kinds a scenario triggers on, mostly active and unpaused mentors: more matches.
activity_kinds = st.sampled_from([*KINDS[:2], *KINDS[:2], *KINDS])
pauses = st.one_of(st.none(), st.none(), st.just(NOW), times, times.map(lambda t: t + 9 * DAY))

mentors = st.builds(
    MentorSpec,
    chapter=st.integers(0, 1),
    is_active=st.sampled_from([True, True, True, False]),
    paused_until=pauses,
)
scenarios = st.builds(
    ScenarioSpec,
    is_enabled=st.sampled_from([True, True, True, False]),
    chapter=st.one_of(st.none(), st.integers(0, 1)),
    trigger_kind=st.sampled_from(KINDS[:2]),
    delay_days=st.integers(0, 4),
    requires_wellbeing=st.booleans(),
    skip_if_followed_up=st.booleans(),
    lookback_days=st.integers(1, 4),
)


@st.composite
def worlds(draw: st.DrawFn) -> World:
    mentor_specs = draw(st.lists(mentors, min_size=1, max_size=4))
    activity = st.builds(
        ActivitySpec,
        mentor=st.integers(0, len(mentor_specs) - 1),
        contact=st.sampled_from(CONTACTS),
        kind=activity_kinds,
        occurred_at=times,
        wellbeing=st.booleans(),
        withdrawn=st.sampled_from([False, False, False, True]),
    )
    activity_specs = draw(st.lists(activity, max_size=12))
    scenario_specs = draw(st.lists(scenarios, min_size=1, max_size=3))
    history: dict[tuple[int, int], str] = {}
    if activity_specs:
        history = draw(
            st.dictionaries(
                st.tuples(
                    st.integers(0, len(scenario_specs) - 1),
                    st.integers(0, len(activity_specs) - 1),
                ),
                st.sampled_from(HISTORY_KINDS),
                max_size=4,
            )
        )
    return World(mentor_specs, activity_specs, scenario_specs, history)


def is_paused(mentor: MentorSpec, now: datetime) -> bool:
    return mentor.paused_until is not None and mentor.paused_until > now


def followed_up(world: World, trigger: ActivitySpec, now: datetime) -> bool:
    return any(
        later.mentor == trigger.mentor
        and later.contact == trigger.contact
        and trigger.occurred_at < later.occurred_at <= now
        and not later.withdrawn
        for later in world.activities
    )


def reference(world: World, now: datetime) -> tuple[set[tuple[int, int]], int]:
    """(scenario, activity) pairs due now, and how many are held back by a pause."""
    due: set[tuple[int, int]] = set()
    paused = 0
    for si, s in enumerate(world.scenarios):
        if not s.is_enabled:
            continue
        for ai, a in enumerate(world.activities):
            mentor = world.mentors[a.mentor]
            due_at = a.occurred_at + s.delay_days * DAY
            rule_holds = (
                (s.chapter is None or s.chapter == mentor.chapter)
                and a.kind == s.trigger_kind
                and not a.withdrawn
                and (a.wellbeing or not s.requires_wellbeing)
                and mentor.is_active
                and now - s.lookback_days * DAY <= due_at <= now
                and not (s.skip_if_followed_up and followed_up(world, a, now))
            )
            history = world.history.get((si, ai))
            # No history yet: due when the rule holds. A reclaimable row (a due
            # retry, a dead run's claim) is sent again only while it still holds.
            eligible = rule_holds and (history is None or history in RETURNING)
            if eligible and is_paused(mentor, now):
                paused += 1
            elif eligible:
                due.add((si, ai))
    return due, paused


def build(world: World, now: datetime) -> tuple[list[Scenario], list[Activity]]:
    chapters = [f.chapter() for _ in range(2)]
    mentor_rows = [
        f.mentor(
            chapters[m.chapter],
            tokens=0,
            is_active=m.is_active,
            prompts_paused_until=m.paused_until,
        )
        for m in world.mentors
    ]
    activity_rows = [
        f.activity(
            mentor_rows[a.mentor],
            contact_ref=a.contact,
            kind=a.kind,
            occurred_at=a.occurred_at,
            wellbeing_concern=a.wellbeing,
            withdrawn_at=now - SECOND if a.withdrawn else None,
        )
        for a in world.activities
    ]
    scenario_rows = [
        f.scenario(
            is_enabled=s.is_enabled,
            chapter=None if s.chapter is None else chapters[s.chapter],
            trigger_kind=s.trigger_kind,
            delay_days=s.delay_days,
            requires_wellbeing_concern=s.requires_wellbeing,
            skip_if_followed_up=s.skip_if_followed_up,
            lookback_days=s.lookback_days,
        )
        for s in world.scenarios
    ]
    for (si, ai), kind in world.history.items():
        f.prompt(
            scenario_rows[si],
            activity_rows[ai],
            due_at=activity_rows[ai].occurred_at + scenario_rows[si].delay_days * DAY,
            **history_fields(kind, now),
        )
    return scenario_rows, activity_rows


def history_fields(kind: str, now: datetime) -> dict[str, Any]:
    if kind == "retry_due":
        return {"status": PromptStatus.RETRY, "attempts": 1, "next_attempt_at": now - SECOND}
    if kind == "retry_later":
        return {"status": PromptStatus.RETRY, "attempts": 1, "next_attempt_at": now + SECOND}
    if kind == "stale_claim":
        return {"status": PromptStatus.PENDING, "claimed_at": now - STALE_CLAIM - SECOND}
    if kind == "fresh_claim":
        return {"status": PromptStatus.PENDING, "claimed_at": now - STALE_CLAIM + SECOND}
    return {"status": kind}


def observed(summary: DispatchSummary, scenarios: list[Scenario], activities: list[Activity]):
    scenario_index = {s.pk: i for i, s in enumerate(scenarios)}
    activity_index = {a.pk: i for i, a in enumerate(activities)}
    pairs = [
        (scenario_index[p.scenario_id], activity_index[p.activity_id]) for p in summary.prompts
    ]
    assert len(pairs) == len(set(pairs)), "a dry run listed one prompt twice"
    for p in summary.prompts:
        assert p.peer_mentor_id == activities[activity_index[p.activity_id]].peer_mentor_id
    return set(pairs)


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(world=worlds())
def test_it_finds_exactly_the_prompts_the_design_calls_due(world: World, settings) -> None:
    settings.DISPATCH_STALE_CLAIM_SECONDS = int(STALE_CLAIM.total_seconds())
    with transaction.atomic():
        scenario_rows, activity_rows = build(world, NOW)
        summary = run_dispatch(dry_run=True, now=NOW)
        expected_due, expected_paused = reference(world, NOW)
        assert observed(summary, scenario_rows, activity_rows) == expected_due
        assert summary.deferred.get(PAUSED, 0) == expected_paused
        transaction.set_rollback(True)
