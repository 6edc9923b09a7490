from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from scheduler.models import DispatchRun


def finished_run(minutes_ago: float, error: str = "") -> DispatchRun:
    finished = timezone.now() - timedelta(minutes=minutes_ago)
    return DispatchRun.objects.create(
        trigger=DispatchRun.Trigger.SCHEDULE,
        started_at=finished - timedelta(seconds=5),
        finished_at=finished,
        error=error,
    )
