"""`run_dispatch --dry-run --json`, output included, against a hand-written floor.

The floor runs the benchmark's raw anti-join per scenario (bench/floor.py), its
window reaching a day further back so the same rows tell which prompts became
too late, and prints the same JSON document with the standard encoder: it
returns the same rows, with none of the pipeline's structure.
"""

from __future__ import annotations

import heapq
import io
import json
import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine
from django.core.management import call_command
from django.db import connection

from bench.floor import windows
from scheduler.dispatch.dry_run import TOO_LATE_WITHIN
from scheduler.models import Scenario


def command_seconds() -> float:
    """The management command itself, writing its JSON to /dev/null."""
    with open(os.devnull, "w") as sink:
        started = time.perf_counter()
        call_command("run_dispatch", "--dry-run", "--json", stdout=sink, stderr=sink)
        return time.perf_counter() - started


def command_document() -> dict[str, Any]:
    printed = io.StringIO()
    call_command("run_dispatch", "--dry-run", "--json", stdout=printed, stderr=io.StringIO())
    document: dict[str, Any] = json.loads(printed.getvalue())
    return document


def floor_seconds(now: datetime) -> float:
    with open(os.devnull, "w") as sink:
        started = time.perf_counter()
        sink.write(json.dumps(floor_document(now)))
        return time.perf_counter() - started


def floor_document(now: datetime) -> dict[str, Any]:
    scenarios = list(Scenario.objects.filter(is_enabled=True))
    held = too_late = 0
    streams = []
    with connection.cursor() as cursor:
        for scenario in scenarios:
            delay = timedelta(days=scenario.delay_days)
            oldest_due = now - timedelta(days=scenario.lookback_days)
            # A day further back than the window: those rows are the ones that became too late.
            for sql, params, calendar in windows(scenario, now, TOO_LATE_WITHIN):
                cursor.execute(sql, params)
                due = []
                for activity_id, mentor_id, occurred_at, not_paused in cursor.fetchall():
                    occurred_at = _aware(occurred_at)
                    if calendar is None:
                        due_at = occurred_at + delay
                    else:
                        due_at = calendar.add_working_days(occurred_at, scenario.delay_days)
                    if due_at < oldest_due:
                        too_late += 1
                    elif not not_paused:
                        held += 1
                    else:
                        due.append((due_at, mentor_id, scenario.pk, activity_id))
                streams.append(sorted(due))
    prompts = [
        {"peer_mentor_id": m, "scenario_id": s, "activity_id": a, "due_at": d.isoformat()}
        for d, m, s, a in heapq.merge(*streams)
    ]
    return {
        "dispatched": 0,
        "failed": 0,
        "skipped": 0,
        "retrying": 0,
        "in_doubt": 0,
        "deferred": {"paused": held} if held else {},
        "deferred_until": None,
        "too_late": too_late,
        "prompts": prompts,
    }


def _aware(value: datetime | str) -> datetime:
    # SQLite returns naive UTC text through a raw cursor.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def measure(now: datetime, repeat: int) -> dict[str, object]:
    """Best of `repeat` each, with the clock stopped at `now` (the command has no --now):
    on a dense data set some prompts fall due within the seconds the timing takes."""
    with time_machine.travel(now, tick=False):
        command_seconds()  # warm both alike
        command = min(command_seconds() for _ in range(repeat))
        floor = min(floor_seconds(now) for _ in range(repeat))
        printed, expected = command_document(), floor_document(now)
    return {
        "prompts": len(printed["prompts"]),
        "command_seconds": round(command, 4),
        "floor_seconds": round(floor, 4),
        "vs_floor": round(command / floor, 3),
        "floor_agrees": _rows(printed) == _rows(expected)
        and printed["too_late"] == expected["too_late"],
    }


def _rows(document: dict[str, Any]) -> set[tuple[int, int, int, datetime]]:
    return {
        (
            p["peer_mentor_id"],
            p["scenario_id"],
            p["activity_id"],
            datetime.fromisoformat(p["due_at"]),
        )
        for p in document["prompts"]
    }
