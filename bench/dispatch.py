"""Stage 5-6 throughput: the real pipeline and Supabase backend against the loopback server."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from django.db.models import Count
from django.test import override_settings
from django.utils import timezone

from bench.latency_server import requests_received, supabase_settings
from scheduler.dispatch.pipeline import run_dispatch
from scheduler.models import DispatchRun, PromptHistory


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
    """Make every prompt due again: the benchmark's runs and history rows go.

    The scheduler tables hold only the benchmark's own data set (dataset.foreign_data
    refused anything else before they were wiped), so every run and row is its own.
    """
    PromptHistory.objects.all().delete()
    DispatchRun.objects.all().delete()


def history_by_status() -> dict[str, int]:
    rows = PromptHistory.objects.values_list("status").annotate(n=Count("pk")).order_by("status")
    return {status: n for status, n in rows}


def pipeline_dispatch(base_url: str, concurrency: int, latency: float) -> DispatchFigure:
    forget_prompts()
    received_before = requests_received(base_url)
    with (
        supabase_settings(base_url),
        override_settings(DISPATCH_CONCURRENCY=concurrency, DISPATCH_RUN_DEADLINE_SECONDS=3600),
    ):
        started = time.perf_counter()
        # No backend passed: the run builds its own from PUSH_BACKEND, as in production.
        summary = run_dispatch(trigger=DispatchRun.Trigger.COMMAND, now=timezone.now())
        seconds = time.perf_counter() - started
    sent = summary.dispatched + summary.failed + summary.retrying
    rate = sent / seconds if seconds else 0.0
    bound = concurrency / latency
    run = DispatchRun.objects.latest("pk")  # forget_prompts left no other
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
        server_requests=requests_received(base_url) - received_before,
    )
