"""Prometheus metrics of dispatch runs and push requests.

With PROMETHEUS_MULTIPROC_DIR set (before the first import of prometheus_client)
every process writes its samples there and /metrics adds them up, so a run
in the django-q2 cluster shows up on the web server's /metrics. Without it the
process's own default registry is served. Recording never raises: a metric
must not affect a run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from django.utils import timezone
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from scheduler.models import DispatchRun

logger = logging.getLogger(__name__)

PROMPTS = Counter(
    "scheduler_prompts", "Prompts by the status a dispatch run left them in.", ["status"]
)
RUN_DURATION = Histogram(
    "scheduler_dispatch_run_duration_seconds",
    "Wall time of a dispatch run.",
    buckets=(0.5, 1, 5, 15, 30, 60, 120, 240, 600),
)
LAST_SUCCESS = Gauge(
    "scheduler_last_successful_run_timestamp_seconds",
    "Unix time when a dispatch run last finished without error.",
    multiprocess_mode="max",
)
PUSH_LATENCY = Histogram(
    "scheduler_push_request_duration_seconds",
    "Time of one push request, by backend and outcome.",
    ["backend", "outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


def record_run(run: DispatchRun, counts: Mapping[str, int]) -> None:
    """At the end of a run: its prompts by status, its duration, and if it went well, when."""
    try:
        for status, n in counts.items():
            if n:
                PROMPTS.labels(status=status).inc(n)
        finished = run.finished_at or timezone.now()
        RUN_DURATION.observe(max((finished - run.started_at).total_seconds(), 0.0))
        if not run.error:
            LAST_SUCCESS.set(finished.timestamp())
    except Exception:
        logger.exception("could not record the metrics of dispatch run %s", run.pk)


def exposition() -> bytes:
    """The text format: all processes' samples in multiprocess mode, else this process's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)
