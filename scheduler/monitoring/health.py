"""Is the scheduler running? One small query answers both /healthz and the admin banner."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.db.models import QuerySet, Subquery
from django.http import HttpRequest
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from scheduler.models import DispatchRun

OK, STALE, FAILING, DATABASE = "ok", "stale", "failing", "database"
# The banner speaks of failures only after this many finished runs in a row failed.
FAILED_RUNS = 3


@dataclass(frozen=True)
class Snapshot:
    """The last finished runs (newest first) and when a run last finished without error."""

    recent: list[tuple[datetime, str]]  # (finished_at, error)
    last_ok_at: datetime | None

    @property
    def last_finished_at(self) -> datetime | None:
        return self.recent[0][0] if self.recent else None

    @property
    def all_recent_failed(self) -> bool:
        return len(self.recent) >= FAILED_RUNS and all(error for _, error in self.recent)

    @property
    def latest_error(self) -> str:
        return self.recent[0][1] if self.recent else ""


def cutoff(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(minutes=3 * settings.DISPATCH_INTERVAL_MINUTES)


def snapshot() -> Snapshot:
    """One query: the last finished runs, each carrying the last good run's time."""
    rows = list(snapshot_query())
    if not rows:
        return Snapshot([], None)
    return Snapshot([(row[0], row[1]) for row in rows if row[0] is not None], rows[0][2])


def snapshot_query() -> QuerySet[Any, tuple[datetime | None, str, Any]]:
    """Both halves read an index of their own (dispatchrun_finished, dispatchrun_finished_ok)
    backwards and stop at the first rows, however many runs the table holds."""
    last_ok = (
        DispatchRun.objects.filter(finished_at__isnull=False, error="")
        .order_by("-finished_at")
        .values("finished_at")[:1]
    )
    return (
        DispatchRun.objects.filter(finished_at__isnull=False)
        .annotate(last_ok_at=Subquery(last_ok))
        .order_by("-finished_at")
        .values_list("finished_at", "error", "last_ok_at")[:FAILED_RUNS]
    )


def status(snap: Snapshot, now: datetime | None = None) -> str:
    limit = cutoff(now)
    if snap.last_ok_at is not None and snap.last_ok_at >= limit:
        return OK
    if snap.last_finished_at is not None and snap.last_finished_at >= limit:
        return FAILING
    return STALE


def banner(snap: Snapshot, user: object, now: datetime | None = None) -> str:
    """What staff read at the top of every admin page when runs stopped or keep failing.

    Superusers, who run the service, get the technical words; coordinators what it
    means for them and whom to tell.
    """
    if getattr(user, "is_superuser", False):
        return _operator_banner(snap, now)
    if snap.all_recent_failed:
        problem = _("Prompts are not being sent right now: the last three runs failed.")
    elif snap.last_ok_at is None:
        problem = _("Prompts are not being sent yet: sending has not run so far.")
    elif snap.last_ok_at < cutoff(now):
        problem = _("Prompts are not being sent right now: sending last ran at %(time)s.") % {
            "time": _when(snap.last_ok_at, now)
        }
    else:
        return ""
    contact = settings.SUPPORT_CONTACT or _("whoever runs this service")
    return problem + " " + _("Please tell %(contact)s.") % {"contact": contact}


def _operator_banner(snap: Snapshot, now: datetime | None) -> str:
    if snap.all_recent_failed:
        first_line = (snap.latest_error.strip().splitlines() or [""])[0][:200]
        if first_line:
            return _("The last three runs failed: %(error)s") % {"error": first_line}
        return _("The last three runs failed.")
    if snap.last_ok_at is None:
        return _("The scheduler has not run yet. Is manage.py qcluster running?")
    if snap.last_ok_at < cutoff(now):
        return _("The scheduler has not run since %(time)s. Is manage.py qcluster running?") % {
            "time": _when(snap.last_ok_at, now)
        }
    return ""


def _when(moment: datetime, now: datetime | None) -> str:
    local = timezone.localtime(moment)
    if local.date() == timezone.localdate(now or timezone.now()):
        return formats.time_format(local, "H:i")
    return formats.date_format(local, "SHORT_DATETIME_FORMAT")


def admin_banner(request: HttpRequest) -> dict[str, Callable[[], str]]:
    """Context processor: a callable, so the query runs only where a template shows it."""

    def text() -> str:
        user = getattr(request, "user", None)
        if not getattr(user, "is_staff", False):
            return ""
        try:
            return banner(snapshot(), user)
        except DatabaseError:
            return ""

    return {"scheduler_banner": text}
