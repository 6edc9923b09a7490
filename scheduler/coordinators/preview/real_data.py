"""Scenario preview on real data: what it would prompt, without sending anything.

Both parts use the conditions of `scheduler.rules`: the "now" part is
`due_activities`, the query the pipeline runs; the history part evaluates the
same conditions at daily steps over the last N days, in one query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce
from operator import or_

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from scheduler import access
from scheduler.access import User
from scheduler.coordinators.report import SENT
from scheduler.dispatch import policy
from scheduler.models import Activity, PromptHistory, Scenario
from scheduler.rules import (
    Condition,
    conditions_for,
    delay_of,
    due_activities,
    due_time,
    due_window,
    lookback_of,
)
from scheduler.workdays import Calendars

SHOWN_ROWS = 50


@dataclass(frozen=True)
class DueRow:
    activity: Activity
    due_at: datetime
    held_by: str | None


@dataclass(frozen=True)
class RealDataPreview:
    due: list[DueRow]
    due_total: int
    quiet_until: datetime | None
    days: int
    would_have_sent: int
    # Any prompt in the log, whatever became of it; `already_sent` counts as report.SENT does.
    already_prompted: int
    already_sent: int


def preview_real_data(scenario: Scenario, user: User, now: datetime, days: int) -> RealDataPreview:
    scoped = access.in_chapters(user, "peer_mentor__chapter")
    due = due_activities(scenario, now, with_deferred=True).filter(scoped)
    past = produced_over(scenario, now, days).filter(scoped)
    prompted = PromptHistory.objects.filter(scenario_id=scenario.pk, activity_id=OuterRef("pk"))
    counts = past.aggregate(
        prompted=Count("pk", filter=Q(Exists(prompted))),
        sent=Count("pk", filter=Q(Exists(prompted.filter(SENT)))),
    )
    return RealDataPreview(
        due=due_rows(scenario, due),
        due_total=due.count(),
        quiet_until=policy.quiet_hours_end(now),
        days=days,
        would_have_sent=past.count(),
        already_prompted=counts["prompted"],
        already_sent=counts["sent"],
    )


def due_rows(scenario: Scenario, due: QuerySet[Activity]) -> list[DueRow]:
    deferring = [c.key for c in conditions_for(scenario) if c.defers]
    rows = due.select_related("peer_mentor__chapter").order_by("occurred_at", "pk")[:SHOWN_ROWS]
    calendars = Calendars.load() if scenario.counts_working_days else None
    return [
        DueRow(
            activity=a,
            due_at=due_time(scenario, a.occurred_at, a.peer_mentor.chapter_id, calendars),
            held_by=next((k for k in deferring if not getattr(a, f"meets_{k}")), None),
        )
        for a in rows
    ]


def produced_over(scenario: Scenario, now: datetime, days: int) -> QuerySet[Activity]:
    """Activities the scenario would have prompted for at one of the daily steps.

    Already prompted ones are kept (the caller counts them), and deferring
    conditions are left out: a held-back prompt is sent later, not dropped.
    """
    conditions = [c for c in conditions_for(scenario) if c.key != "not_prompted" and not c.defers]
    steps = [now - timedelta(days=step) for step in range(days)]
    calendars = Calendars.load() if scenario.counts_working_days else None

    def where(condition: Condition, moment: datetime) -> Q:
        if condition.key == "window":
            return due_window(scenario, moment, calendars=calendars)
        return condition.where(scenario, moment)

    def due_at(moment: datetime) -> Q:
        return reduce(lambda q, c: q & where(c, moment), conditions, Q())

    if calendars is not None:
        # The window of each step bounds the times itself.
        return Activity.objects.filter(reduce(or_, (due_at(s) for s in steps)))
    earliest = steps[-1] - delay_of(scenario) - lookback_of(scenario)
    latest = now - delay_of(scenario)
    return Activity.objects.filter(
        reduce(or_, (due_at(s) for s in steps)),
        occurred_at__gte=earliest,
        occurred_at__lte=latest,
    )
