"""The function the django-q2 schedule calls."""

from __future__ import annotations

from scheduler.models import DispatchRun
from scheduler.pipeline import run_dispatch


def scheduled_dispatch() -> dict[str, object]:
    return run_dispatch(trigger=DispatchRun.Trigger.SCHEDULE).as_dict()


def admin_dispatch() -> dict[str, object]:
    return run_dispatch(trigger=DispatchRun.Trigger.ADMIN).as_dict()
