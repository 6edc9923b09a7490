"""The function the django-q2 schedule calls."""

from __future__ import annotations

from collections.abc import Collection

from scheduler.dispatch.pipeline import run_dispatch
from scheduler.models import DispatchRun


def scheduled_dispatch() -> dict[str, object]:
    return run_dispatch(trigger=DispatchRun.Trigger.SCHEDULE).as_dict()


def admin_dispatch(chapter_ids: Collection[int] | None = None) -> dict[str, object]:
    """A run started from the admin: a coordinator's covers only their chapters (None: all)."""
    return run_dispatch(trigger=DispatchRun.Trigger.ADMIN, chapter_ids=chapter_ids).as_dict()
