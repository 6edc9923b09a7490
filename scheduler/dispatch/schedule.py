"""The django-q2 schedule that runs dispatch follows DISPATCH_INTERVAL_MINUTES.

A migration creates it; after every `migrate` its interval is set again from
the setting, so changing the setting and migrating (as every deploy does) is
enough, also on a database migrated long ago.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

SCHEDULE_NAME = "scheduler.dispatch"
TASK = "scheduler.tasks.scheduled_dispatch"


def sync_dispatch_schedule(**kwargs: Any) -> None:
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "func": TASK,
            "schedule_type": Schedule.MINUTES,
            "minutes": settings.DISPATCH_INTERVAL_MINUTES,
            "repeats": -1,
        },
    )
