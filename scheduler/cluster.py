"""Is a django-q2 cluster running right now? Asked by the admin's "run now" button.

Two signs, either one enough:

- the clusters' own status, which django-q2 saves every half second in its
  cache (seen only when that cache is shared with the web server);
- the dispatch schedule: a running cluster's scheduler looks at it every 30
  seconds and moves `next_run` past now once it is due, so a `next_run`
  more than `SCHEDULE_GRACE` in the past means no scheduler is running.
  Without the schedule row, a run that finished recently (the health state)
  stands in for it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import DatabaseError
from django.utils import timezone

from scheduler.dispatch.schedule import SCHEDULE_NAME
from scheduler.monitoring import health

# The cluster calls its scheduler about every 30 s; a minute and a half covers a slow tick.
SCHEDULE_GRACE = timedelta(seconds=90)
# django-q2 saves a cluster's status every half second, and keeps it for three.
STATUS_MAX_AGE = timedelta(seconds=10)


def is_running(now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return _status_is_recent(now) or _schedule_is_kept(now)


def _status_is_recent(now: datetime) -> bool:
    from django_q.conf import Conf
    from django_q.status import Stat

    try:
        stats = Stat.get_all()
    except Exception:  # a cache that cannot answer knows of no cluster
        return False
    stopped = {Conf.STOPPED, Conf.STOPPING}
    return any(
        stat.status not in stopped and now - stat.timestamp <= STATUS_MAX_AGE for stat in stats
    )


def _schedule_is_kept(now: datetime) -> bool:
    from django_q.models import Schedule

    try:
        next_run = (
            Schedule.objects.filter(name=SCHEDULE_NAME).values_list("next_run", flat=True).first()
        )
        if next_run is None:
            return health.status(health.snapshot(), now) == health.OK
    except DatabaseError:
        return False
    return next_run >= now - SCHEDULE_GRACE
