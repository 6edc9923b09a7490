"""Stages 1-2 of the real pipeline, consumed as a stream, and the data they feed."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

# Stages 1-2 below the entry point, on purpose: `run_dispatch(dry_run=True)` keeps every
# prompt in its summary and a real run writes, so only these time the evaluation as the
# stream a run consumes, and only `evaluate` also yields the held prompts seeding needs.
from scheduler.dispatch.evaluation import chunked, evaluate, load_scenarios
from scheduler.dispatch.pipeline import run_dispatch
from scheduler.dispatch.policy import Admission
from scheduler.dispatch.summary import Tally
from scheduler.due_prompts import DuePrompt


@dataclass(frozen=True)
class Pass:
    """What one pass over the due prompts found; equal passes found the same prompts."""

    admitted: int
    held: int
    checksum: int
    seconds: float


def fingerprint(scenario_id: int, activity_id: int) -> int:
    return activity_id * 1_000_003 + scenario_id


def pipeline_pass(now: datetime) -> Pass:
    """Evaluate + deduplicate + admit, exactly as a run does, holding nothing."""
    started = time.perf_counter()
    tally = Tally()
    admission = Admission(now, tally, predict_daily_cap=True)
    admitted = checksum = 0
    for batch in chunked(evaluate(load_scenarios(None), now), settings.DISPATCH_BATCH_SIZE):
        for prompt in admission.admitted(batch):
            admitted += 1
            checksum += fingerprint(prompt.scenario_id, prompt.activity_id)
    seconds = time.perf_counter() - started
    return Pass(admitted, sum(tally.deferred.values()), checksum, seconds)


def dry_run_pass(now: datetime) -> Pass:
    """`run_dispatch(dry_run=True)`: the same work, but the summary keeps every prompt."""
    started = time.perf_counter()
    summary = run_dispatch(dry_run=True, now=now)
    seconds = time.perf_counter() - started
    checksum = sum(fingerprint(p.scenario_id, p.activity_id) for p in summary.prompts)
    return Pass(len(summary.prompts), sum(summary.deferred.values()), checksum, seconds)


def all_due(now: datetime) -> list[DuePrompt]:
    """Every due prompt, held ones included (for seeding history and cross-checks)."""
    return list(evaluate(load_scenarios(None), now))


def best_of(repeat: int, measure: Callable[[], Pass]) -> tuple[Pass, list[float]]:
    """Run `measure` `repeat` times; the fastest is the figure (the others show noise)."""
    passes = [measure() for _ in range(max(repeat, 1))]
    best = min(passes, key=lambda p: p.seconds)
    return best, [round(p.seconds, 4) for p in passes]
