"""The benchmark's own data set: tagged, reproducible, built with bulk writes."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from bench import bulk
from bench.latency_server import BAD_TOKEN_SUFFIX
from scheduler.models import (
    Activity,
    ActivityKind,
    Chapter,
    ClosedPeriod,
    Coordinator,
    DelayUnit,
    DeviceToken,
    DispatchRun,
    PeerMentor,
    PromptHistory,
    PromptStatus,
    Scenario,
)
from tests import factories

# Every chapter and scenario the benchmark creates is named with this prefix;
# everything else hangs off them, so "only benchmark data here" is checkable.
TAG = "bench:"
ACTIVITIES_PER_MENTOR = 40
CONTACTS_PER_MENTOR = 12
CHAPTERS = 5
HISTORY_DAYS = 365
KIND_WEIGHTS = {
    ActivityKind.FIRST_CONTACT: 30,
    ActivityKind.FOLLOW_UP: 30,
    ActivityKind.PHONE_CALL: 25,
    ActivityKind.HOME_VISIT: 15,
}
FC, FU, PC, HV = (
    ActivityKind.FIRST_CONTACT,
    ActivityKind.FOLLOW_UP,
    ActivityKind.PHONE_CALL,
    ActivityKind.HOME_VISIT,
)
# (trigger kind, delay, lookback, wellbeing required, skip if followed up, chapter index)
SCENARIO_SHAPES: tuple[tuple[str, int, int, bool, bool, int | None], ...] = (
    (FC, 3, 7, True, True, None),
    (FC, 7, 14, False, True, None),
    (FU, 14, 7, False, True, None),
    (PC, 2, 5, False, True, None),
    (HV, 1, 3, False, False, None),
    (FC, 0, 2, False, False, 0),
    (FU, 30, 14, False, True, 1),
    (PC, 10, 10, True, True, None),
    (HV, 5, 7, False, True, 2),
    (FC, 21, 30, False, True, None),
)
ACTIVITY_COLUMNS = (
    "peer_mentor_id",
    "contact_ref",
    "kind",
    "occurred_at",
    "wellbeing_concern",
    "notes",
)


@dataclass(frozen=True)
class Shape:
    """How the activities spread: over how many days, among how many contacts per mentor."""

    name: str
    history_days: int
    contacts_per_mentor: int


# A year of activities, a contact followed up often: about 3% of activities are due.
SPARSE = Shape("sparse", HISTORY_DAYS, CONTACTS_PER_MENTOR)
# Under ten weeks, a contact rarely followed up: about a quarter are due (200k: some 52k).
DENSE = Shape("dense", 67, 400)


class ForeignDataError(Exception):
    """The database holds rows the benchmark did not create."""


def foreign_data() -> list[str]:
    """What in the scheduler tables was not made by the benchmark (empty: safe to wipe)."""
    checks = {
        "chapters": Chapter.objects.exclude(name__startswith=TAG),
        "peer mentors": PeerMentor.objects.exclude(chapter__name__startswith=TAG),
        "scenarios": Scenario.objects.exclude(name__startswith=TAG),
        # The benchmark starts its runs from its command; the schedule's or the
        # admin's are someone else's. A run's prompts hang off the scenarios above.
        "dispatch runs": DispatchRun.objects.exclude(trigger=DispatchRun.Trigger.COMMAND),
        "coordinators": Coordinator.objects.all(),
    }
    return [name for name, qs in checks.items() if qs.exists()]


def scheduler_tables_exist() -> bool:
    return Scenario._meta.db_table in connection.introspection.table_names()


@dataclass(frozen=True)
class BuiltData:
    activities: int
    mentors: int
    scenarios: int
    seconds: float = 0.0


def create_chapters() -> list[int]:
    chapters = Chapter.objects.bulk_create(
        Chapter(name=f"{TAG}chapter {i}") for i in range(CHAPTERS)
    )
    return [c.pk for c in chapters] or list(
        Chapter.objects.order_by("pk").values_list("pk", flat=True)
    )


def create_mentors(count: int, chapter_ids: list[int], rng: random.Random, now: datetime) -> int:
    """Mentors 1..count with explicit ids; 4% inactive, 4% paused past `now`."""
    rows = []
    for mentor_id in range(1, count + 1):
        roll = rng.random()
        paused = now + timedelta(days=2) if 0.04 <= roll < 0.08 else None
        rows.append(
            PeerMentor(
                pk=mentor_id,
                name=f"{TAG}mentor {mentor_id}",
                chapter_id=chapter_ids[mentor_id % len(chapter_ids)],
                is_active=roll >= 0.04,
                prompts_paused_until=paused,
            )
        )
    PeerMentor.objects.bulk_create(rows, batch_size=5000)
    return count


def create_closed_periods(chapter_ids: list[int], now: datetime) -> None:
    """Closed days inside the windows: two days for every chapter, three more for one,
    so working-day scenarios meet two calendars."""
    today = timezone.localdate(now)
    ClosedPeriod.objects.bulk_create(
        [
            ClosedPeriod(
                name=f"{TAG}closed",
                first_day=today - timedelta(days=12),
                last_day=today - timedelta(days=11),
            ),
            ClosedPeriod(
                name=f"{TAG}chapter closed",
                first_day=today - timedelta(days=6),
                last_day=today - timedelta(days=4),
                chapter_id=chapter_ids[0],
            ),
        ]
    )


def create_scenarios(count: int, chapter_ids: list[int]) -> list[Scenario]:
    """`count` enabled scenarios of the shapes above, every second one in working days."""
    scenarios = []
    for index in range(count):
        kind, delay, lookback, wellbeing, skip, chapter = SCENARIO_SHAPES[
            index % len(SCENARIO_SHAPES)
        ]
        scenarios.append(
            factories.build_scenario(
                name=f"{TAG}scenario {index + 1}",
                chapter_id=None if chapter is None else chapter_ids[chapter],
                trigger_kind=kind,
                delay_days=delay,
                lookback_days=lookback,
                requires_wellbeing_concern=wellbeing,
                skip_if_followed_up=skip,
                delay_unit=DelayUnit.WORKING_DAYS if index % 2 else DelayUnit.DAYS,
                body="A few days have passed. Is it time for a follow-up?",
            )
        )
    # One disabled scenario: the evaluation must not spend time on it.
    scenarios.append(
        factories.build_scenario(
            name=f"{TAG}disabled", is_enabled=False, title="Off", body="Never sent."
        )
    )
    return Scenario.objects.bulk_create(scenarios)


def activity_rows(
    count: int,
    mentors: int,
    rng: random.Random,
    now: datetime,
    shape: Shape,
) -> Iterator[tuple[object, ...]]:
    kinds = list(KIND_WEIGHTS)
    weights = list(KIND_WEIGHTS.values())
    span = shape.history_days * 86400.0
    for _ in range(count):
        mentor = rng.randint(1, mentors)
        # About 1% future-dated rows: they must never cancel a prompt.
        seconds_ago = rng.uniform(-86400.0, span) if rng.random() < 0.01 else rng.uniform(0, span)
        yield (
            mentor,
            f"m{mentor}-c{rng.randrange(shape.contacts_per_mentor)}",
            rng.choices(kinds, weights)[0],
            now - timedelta(seconds=seconds_ago),
            rng.random() < 0.15,
            "",
        )


def build_evaluation_data(
    size: int, scenario_count: int, now: datetime, seed: int, shape: Shape | None = None
) -> BuiltData:
    """`size` activities of the given shape (SPARSE by default) before `now`."""
    shape = shape or SPARSE
    rng = random.Random(seed)
    bulk.wipe_scheduler_tables()
    chapter_ids = create_chapters()
    mentors = create_mentors(max(size // ACTIVITIES_PER_MENTOR, 10), chapter_ids, rng, now)
    create_scenarios(scenario_count, chapter_ids)
    create_closed_periods(chapter_ids, now)
    bulk.insert_rows(Activity, ACTIVITY_COLUMNS, activity_rows(size, mentors, rng, now, shape))
    bulk.reset_sequences()
    bulk.analyze()
    return BuiltData(activities=size, mentors=mentors, scenarios=scenario_count)


def mark_already_prompted(prompts: list[tuple[int, int, int, datetime]], fraction: float) -> int:
    """Give every n-th due prompt a history row, as if an earlier run had sent it."""
    if fraction <= 0:
        return 0
    step = max(round(1 / fraction), 1)
    chosen = prompts[::step]
    PromptHistory.objects.bulk_create(
        (
            PromptHistory(
                peer_mentor_id=mentor_id,
                scenario_id=scenario_id,
                activity_id=activity_id,
                status=PromptStatus.DISPATCHED,
                created_at=due_at,
                due_at=due_at,
                dispatched_at=due_at,
                attempts=1,
            )
            for mentor_id, scenario_id, activity_id, due_at in chosen
        ),
        batch_size=5000,
    )
    bulk.analyze()
    return len(chosen)


def build_dispatch_data(prompts: int, now: datetime, bad_every: int) -> Scenario:
    """`prompts` first contacts due now, one per contact, 4 per mentor, one device each.

    Every `bad_every`-th mentor's device (the first one included) is one the
    loopback server rejects, so the history must show those prompts failed and
    the rest dispatched.
    """
    bulk.wipe_scheduler_tables()
    chapter_ids = create_chapters()
    mentors = max(prompts // 4, 1)
    PeerMentor.objects.bulk_create(
        (
            PeerMentor(pk=i, name=f"{TAG}mentor {i}", chapter_id=chapter_ids[i % len(chapter_ids)])
            for i in range(1, mentors + 1)
        ),
        batch_size=5000,
    )
    DeviceToken.objects.bulk_create(
        (
            DeviceToken(
                peer_mentor_id=i,
                token=f"bench-device-{i:08d}"
                + (BAD_TOKEN_SUFFIX if is_rejected(i, bad_every) else ""),
            )
            for i in range(1, mentors + 1)
        ),
        batch_size=5000,
    )
    # The tests' default scenario (three days after a first contact), due now for each activity.
    scenario = factories.scenario(name=f"{TAG}dispatch")
    kind, delay = scenario.trigger_kind, timedelta(days=scenario.delay_days)
    rows = (
        (1 + i % mentors, f"d{i}", kind, now - delay - timedelta(seconds=i), False, "")
        for i in range(prompts)
    )
    bulk.insert_rows(Activity, ACTIVITY_COLUMNS, rows)
    bulk.reset_sequences()
    bulk.analyze()
    return scenario


def expected_failures(prompts: int, bad_every: int) -> int:
    mentors = max(prompts // 4, 1)
    return sum(1 for i in range(prompts) if is_rejected(1 + i % mentors, bad_every))


def is_rejected(mentor_id: int, bad_every: int) -> bool:
    return (mentor_id - 1) % bad_every == 0
