"""Stage 5-6 throughput: the real pipeline against the loopback server, and the seed's loop."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from itertools import islice

from django.db.models import Count
from django.test import override_settings
from django.utils import timezone

from bench.backend import LoopbackBackend
from bench.latency_server import server_counts
from scheduler.models import DeviceToken, DispatchRun, PromptHistory, PromptStatus
from scheduler.pipeline import evaluate, load_scenarios, run_dispatch
from scheduler.push import PushMessage


@dataclass(frozen=True)
class DispatchFigure:
    concurrency: int
    prompts: int
    seconds: float
    prompts_per_second: float
    bound_per_second: float
    fraction_of_bound: float
    summary: dict[str, int]
    history_by_status: dict[str, int]
    history_rows_of_run: int
    server_requests: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def forget_prompts() -> None:
    """Make every prompt due again: the benchmark's runs and history rows go."""
    PromptHistory.objects.all().delete()
    DispatchRun.objects.filter(trigger=DispatchRun.Trigger.BENCHMARK).delete()


def history_by_status() -> dict[str, int]:
    rows = PromptHistory.objects.values_list("status").annotate(n=Count("pk")).order_by("status")
    return {status: n for status, n in rows}


def requests_answered(base_url: str) -> int:
    counts = server_counts(base_url)
    return counts["accepted"] + counts["rejected"]


def pipeline_dispatch(base_url: str, concurrency: int, latency: float) -> DispatchFigure:
    forget_prompts()
    answered_before = requests_answered(base_url)
    backend = LoopbackBackend(url=f"{base_url}/push", concurrency=concurrency)
    with override_settings(DISPATCH_CONCURRENCY=concurrency, DISPATCH_RUN_DEADLINE_SECONDS=3600):
        started = time.perf_counter()
        summary = run_dispatch(
            trigger=DispatchRun.Trigger.BENCHMARK, now=timezone.now(), backend=backend
        )
        seconds = time.perf_counter() - started
    sent = summary.dispatched + summary.failed + summary.retrying
    rate = sent / seconds if seconds else 0.0
    bound = concurrency / latency
    run = DispatchRun.objects.filter(trigger=DispatchRun.Trigger.BENCHMARK).latest("pk")
    return DispatchFigure(
        concurrency=concurrency,
        prompts=sent,
        seconds=round(seconds, 3),
        prompts_per_second=round(rate, 1),
        bound_per_second=round(bound, 1),
        fraction_of_bound=round(rate / bound, 3),
        summary={
            "dispatched": summary.dispatched,
            "failed": summary.failed,
            "skipped": summary.skipped,
            "retrying": summary.retrying,
        },
        history_by_status=history_by_status(),
        history_rows_of_run=PromptHistory.objects.filter(run=run).count(),
        server_requests=requests_answered(base_url) - answered_before,
    )


def seed_loop(base_url: str, sample: int) -> dict[str, object]:
    """The seed's literal loop: per prompt, find the device, send, then save its row."""
    forget_prompts()
    now = timezone.now()
    scenarios = load_scenarios(None)
    backend = LoopbackBackend(url=f"{base_url}/push", concurrency=1)
    sent = 0
    with backend:
        started = time.perf_counter()
        for prompt in islice(evaluate(scenarios, now), sample):
            scenario = scenarios[prompt.scenario_id]
            status = PromptStatus.SKIPPED
            for token in DeviceToken.objects.filter(
                peer_mentor_id=prompt.peer_mentor_id, is_active=True
            ).values_list("token", flat=True):
                outcome = backend.send(
                    PushMessage(
                        None,
                        prompt.peer_mentor_id,
                        prompt.scenario_id,
                        token,
                        scenario.title,
                        scenario.body,
                    )
                )
                status = PromptStatus.DISPATCHED if outcome.ok else PromptStatus.FAILED
            PromptHistory.objects.create(
                peer_mentor_id=prompt.peer_mentor_id,
                scenario_id=prompt.scenario_id,
                activity_id=prompt.activity_id,
                status=status,
                due_at=prompt.due_at,
                dispatched_at=timezone.now() if status == PromptStatus.DISPATCHED else None,
                attempts=1,
            )
            sent += 1
        seconds = time.perf_counter() - started
    rows = PromptHistory.objects.count()
    forget_prompts()
    return {
        "prompts": sent,
        "seconds": round(seconds, 3),
        "prompts_per_second": round(sent / seconds, 1) if seconds else 0.0,
        "history_rows": rows,
    }
