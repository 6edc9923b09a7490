"""The escalation step at a large history: the claim's query per scenario against a floor.

The data: `history` finished-or-not prompts, each on an activity of its own,
spread over a year, on mentors whose contacts recur (so many prompts are
followed up), and scenarios that escalate after 1 to 10 days. Timed: what a
run's escalation step does in the database, the follow-up UPDATE and one
claiming INSERT ... SELECT per scenario (`scheduler.escalation.step`), against
a hand-written floor: the same statements in plain SQL using the same indexes.
Each pass starts from no escalations (deleting them is not timed), and the two
contenders alternate, so a busy neighbour costs both alike.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection

from bench import bulk, dataset
from scheduler.escalation.rule import finished_window
from scheduler.escalation.step import claim, mark_followed_up
from scheduler.models import (
    FINISHED_STATUSES,
    Activity,
    DispatchRun,
    Escalation,
    PromptHistory,
    Scenario,
)
from tests import factories

SCENARIOS = 10
PROMPT_COLUMNS = (
    "peer_mentor_id",
    "scenario_id",
    "activity_id",
    "status",
    "created_at",
    "due_at",
    "dispatched_at",
    "finished_at",
    "attempts",
    "last_error",
    "needs_review",
    "rule_sentence",
    "title",
    "body",
)
# dispatched, failed, skipped, to retry: the last never escalates.
STATUS_WEIGHTS = {"dispatched": 85, "failed": 6, "skipped": 6, "retry": 3}


@dataclass(frozen=True)
class EscalationPass:
    created: int
    seconds: float


def build(history: int, now: datetime, seed: int) -> list[Scenario]:
    """`history` prompts (and their activities); returns the escalating scenarios."""
    rng = random.Random(seed)
    bulk.wipe_scheduler_tables()
    chapter_ids = dataset.create_chapters()
    mentors = dataset.create_mentors(
        max(history // dataset.ACTIVITIES_PER_MENTOR, 10), chapter_ids, rng, now
    )
    scenarios = Scenario.objects.bulk_create(
        factories.build_scenario(name=f"{dataset.TAG}escalation {i + 1}", escalate_after_days=1 + i)
        for i in range(SCENARIOS)
    )
    activities = list(dataset.activity_rows(history, mentors, rng, now, dataset.SPARSE))
    bulk.insert_rows(Activity, dataset.ACTIVITY_COLUMNS, activities)
    bulk.reset_sequences()
    first_id = Activity.objects.order_by("pk").values_list("pk", flat=True).first() or 1
    scenario_ids = [s.pk for s in scenarios]
    bulk.insert_rows(
        PromptHistory, PROMPT_COLUMNS, prompt_rows(activities, first_id, scenario_ids, rng)
    )
    bulk.reset_sequences()
    bulk.analyze()
    return scenarios


def prompt_rows(
    activities: list[tuple[object, ...]], first_id: int, scenario_ids: list[int], rng: random.Random
) -> Iterator[tuple[object, ...]]:
    statuses, weights = list(STATUS_WEIGHTS), list(STATUS_WEIGHTS.values())
    for offset, (mentor, _contact, _kind, occurred_at, _concern, _notes) in enumerate(activities):
        assert isinstance(occurred_at, datetime)
        status = rng.choices(statuses, weights)[0]
        at = occurred_at + timedelta(days=3)
        finished = at if status != "retry" else None
        yield (
            mentor,
            scenario_ids[offset % len(scenario_ids)],
            first_id + offset,
            status,
            at,
            at,
            at if status == "dispatched" else None,
            finished,
            1,
            "",
            False,
            "",
            "Time to check in",
            "A few days have passed.",
        )


FLOOR_SQL = """
INSERT INTO scheduler_escalation
    (prompt_id, created_at, notified_at, status, note, run_id, handled_by_id, handled_at)
SELECT h.id, %s, NULL, 'open', '', %s, NULL, NULL
FROM scheduler_prompthistory h JOIN scheduler_activity a ON a.id = h.activity_id
WHERE h.scenario_id = %s AND h.status IN (%s, %s, %s)
  AND h.finished_at >= %s AND h.finished_at <= %s
  AND a.withdrawn_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM scheduler_escalation e WHERE e.prompt_id = h.id)
  AND NOT EXISTS (
    SELECT 1 FROM scheduler_activity l
    WHERE l.peer_mentor_id = h.peer_mentor_id AND l.contact_ref = a.contact_ref
      AND l.occurred_at > a.occurred_at AND l.occurred_at <= %s AND l.withdrawn_at IS NULL)
ON CONFLICT DO NOTHING RETURNING id
"""

FLOOR_FOLLOWED_UP = """
UPDATE scheduler_escalation SET status = 'followed_up'
WHERE status = 'open' AND EXISTS (
  SELECT 1 FROM scheduler_prompthistory h JOIN scheduler_activity a ON a.id = h.activity_id
  WHERE h.id = scheduler_escalation.prompt_id AND EXISTS (
    SELECT 1 FROM scheduler_activity l
    WHERE l.peer_mentor_id = h.peer_mentor_id AND l.contact_ref = a.contact_ref
      AND l.occurred_at > a.occurred_at AND l.occurred_at <= %s AND l.withdrawn_at IS NULL))
"""


def floor_pass(scenarios: list[Scenario], run: DispatchRun, now: datetime) -> EscalationPass:
    adapt = connection.ops.adapt_datetimefield_value
    started = time.perf_counter()
    created = 0
    with connection.cursor() as cursor:
        cursor.execute(FLOOR_FOLLOWED_UP, [adapt(now)])
        for scenario in scenarios:
            earliest, latest = finished_window(scenario, now)
            cursor.execute(
                FLOOR_SQL,
                [
                    adapt(now),
                    run.pk,
                    scenario.pk,
                    *FINISHED_STATUSES,
                    adapt(earliest),
                    adapt(latest),
                    adapt(now),
                ],
            )
            created += len(cursor.fetchall())
    return EscalationPass(created, time.perf_counter() - started)


def step_pass(scenarios: list[Scenario], run: DispatchRun, now: datetime) -> EscalationPass:
    started = time.perf_counter()
    mark_followed_up(now)
    created = sum(claim(scenario, run, now, None) for scenario in scenarios)
    return EscalationPass(created, time.perf_counter() - started)


def measure(
    history: int, now: datetime, repeat: int, seed: int, say: Callable[[str], None]
) -> dict[str, object]:
    say(f"[escalation {history:,}] building {history:,} prompts")
    started = time.perf_counter()
    scenarios = build(history, now, seed)
    say(f"[escalation {history:,}] built in {time.perf_counter() - started:.1f}s")
    run = DispatchRun.objects.create(trigger=DispatchRun.Trigger.COMMAND, started_at=now)
    contenders = {"step": step_pass, "floor": floor_pass}
    times: dict[str, list[float]] = {name: [] for name in contenders}
    created: dict[str, int] = {}
    for measure_pass in contenders.values():  # warm the caches for both alike
        Escalation.objects.all().delete()
        measure_pass(scenarios, run, now)
    for _ in range(max(repeat, 1)):
        for name, measure_pass in contenders.items():
            Escalation.objects.all().delete()
            result = measure_pass(scenarios, run, now)
            times[name].append(round(result.seconds, 4))
            created[name] = result.created
    Escalation.objects.all().delete()
    step, floor = min(times["step"]), min(times["floor"])
    figure = {
        "history": history,
        "escalated": created["step"],
        "step_seconds": step,
        "step_runs": times["step"],
        "floor_seconds": floor,
        "floor_runs": times["floor"],
        "vs_floor": round(step / floor, 3) if floor else None,
        "floor_agrees": created["step"] == created["floor"],
    }
    say(
        f"[escalation {history:,}] step {step:.3f}s, floor {floor:.3f}s "
        f"({figure['vs_floor']}x), {created['step']:,} escalated"
    )
    return figure
