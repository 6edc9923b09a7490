"""The functions django-q2 calls: the scheduled run (then pruning old runs), its shards, the admin's."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime

from django.conf import settings
from django.utils import timezone
from django_q.tasks import async_task

from scheduler.dispatch.pipeline import run_dispatch
from scheduler.dispatch.shard import Shard
from scheduler.models import DispatchRun
from scheduler.retention import prune_dispatch_runs

SHARD_TASK = "scheduler.tasks.shard_dispatch"


def scheduled_dispatch() -> dict[str, object]:
    """One tick: one run, or with DISPATCH_SHARDS = K > 1 K shard runs queued for any free worker."""
    shards = settings.DISPATCH_SHARDS
    if shards > 1:
        return queue_shards(shards)
    summary = run_dispatch(trigger=DispatchRun.Trigger.SCHEDULE)
    prune_dispatch_runs()  # after the run, never in its way; never raises
    return summary.as_dict()


def queue_shards(count: int) -> dict[str, object]:
    tick, queued_at = uuid.uuid4().hex, timezone.now().isoformat()
    for index in range(count):
        async_task(
            SHARD_TASK, index, count, tick, queued_at, task_name=f"dispatch shard {index}/{count}"
        )
    prune_dispatch_runs()
    return {"tick": tick, "shards": count}


def shard_dispatch(
    index: int, count: int, tick: str, queued_at: str | None = None
) -> dict[str, object]:
    """One shard of a scheduled tick: a run of its own over the mentors id % count == index.

    `queued_at` may be missing from a task queued by an earlier release."""
    summary = run_dispatch(
        trigger=DispatchRun.Trigger.SCHEDULE,
        shard=Shard(index, count),
        tick=uuid.UUID(tick),
        tick_queued_at=datetime.fromisoformat(queued_at) if queued_at else None,
    )
    return summary.as_dict()


def admin_dispatch(chapter_ids: Collection[int] | None = None) -> dict[str, object]:
    """A run started from the admin: a coordinator's covers only their chapters (None: all)."""
    return run_dispatch(trigger=DispatchRun.Trigger.ADMIN, chapter_ids=chapter_ids).as_dict()
