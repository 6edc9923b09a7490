"""The functions django-q2 calls: the scheduled run (then pruning old runs) and the admin's."""

from __future__ import annotations

from collections.abc import Collection

from scheduler.dispatch.pipeline import run_dispatch
from scheduler.models import DispatchRun
from scheduler.retention import prune_dispatch_runs


def scheduled_dispatch() -> dict[str, object]:
    summary = run_dispatch(trigger=DispatchRun.Trigger.SCHEDULE)
    prune_dispatch_runs()  # after the run, never in its way; never raises
    return summary.as_dict()


def admin_dispatch(chapter_ids: Collection[int] | None = None) -> dict[str, object]:
    """A run started from the admin: a coordinator's covers only their chapters (None: all)."""
    return run_dispatch(trigger=DispatchRun.Trigger.ADMIN, chapter_ids=chapter_ids).as_dict()
