"""Per-scenario figures for coordinators: sent, opened, followed up, median time to follow-up.

Each report is one aggregate query over PromptHistory. "Followed up" is a
correlated subquery on Activity's (peer_mentor, contact_ref, occurred_at)
index: the prompted mentor's first non-withdrawn activity for the same contact
after the prompt was dispatched and within FOLLOW_UP_WINDOW_DAYS. On
PostgreSQL the median is percentile_cont in the same query; elsewhere a second
query reads only the followed-up prompts' durations (one number per row) and
the median is taken in Python.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import (
    Aggregate,
    Count,
    DateTimeField,
    ExpressionWrapper,
    F,
    FloatField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import TruncWeek
from django.utils import timezone
from django.utils.translation import gettext as _

from scheduler import access
from scheduler.models import Activity, PromptHistory, PromptStatus, Scenario

DEFAULT_DAYS = 30
CHART_DAYS = 84  # twelve weeks on the scenario page


class MedianSeconds(Aggregate):
    """PostgreSQL: the median of an interval, in seconds."""

    template = "percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM %(expressions)s))"
    output_field = FloatField()


@dataclass(frozen=True)
class Figures:
    sent: int = 0
    opened: int = 0
    followed_up: int = 0
    median_follow_up_hours: float | None = None

    @property
    def opened_text(self) -> str:
        return rate_text(self.opened, self.sent)

    @property
    def followed_up_text(self) -> str:
        return rate_text(self.followed_up, self.sent)


@dataclass(frozen=True)
class ScenarioRow:
    scenario_id: int
    name: str
    figures: Figures

    def as_dict(self) -> dict[str, Any]:
        f = self.figures
        return {
            "scenario_id": self.scenario_id,
            "name": self.name,
            "sent": f.sent,
            "opened": f.opened,
            "followed_up": f.followed_up,
            "median_follow_up_hours": f.median_follow_up_hours,
        }


def rate_text(part: int, whole: int) -> str:
    """ "12 of 40, 30 %": a rate is never shown without its counts."""
    if not whole:
        return _("%(part)d of %(whole)d") % {"part": part, "whole": whole}
    percent = round(100 * part / whole)
    return _("%(part)d of %(whole)d, %(percent)d %%") % {
        "part": part,
        "whole": whole,
        "percent": percent,
    }


def window() -> timedelta:
    return timedelta(days=settings.FOLLOW_UP_WINDOW_DAYS)


def first_follow_up() -> Subquery:
    """The prompted mentor's first counted activity for the contact inside the window."""
    dispatched = OuterRef("dispatched_at")
    later = Activity.objects.filter(
        peer_mentor_id=OuterRef("peer_mentor_id"),
        contact_ref=OuterRef("activity__contact_ref"),
        withdrawn_at__isnull=True,
        occurred_at__gt=dispatched,
        occurred_at__lte=ExpressionWrapper(dispatched + window(), output_field=DateTimeField()),
    )
    first = later.order_by().values("peer_mentor_id").annotate(first=Min("occurred_at"))
    return Subquery(first.values("first")[:1], output_field=DateTimeField())


def sent_prompts(
    user: access.User | None, days: int, now: datetime | None = None
) -> QuerySet[PromptHistory]:
    """Dispatched prompts created in the last `days` days, to the user's chapters' mentors."""
    since = (now or timezone.now()) - timedelta(days=days)
    qs = PromptHistory.objects.filter(
        status=PromptStatus.DISPATCHED, dispatched_at__isnull=False, created_at__gte=since
    )
    if user is not None:
        qs = qs.filter(access.in_chapters(user, "peer_mentor__chapter"))
    return qs.annotate(first_follow_up=first_follow_up())


def _aggregates() -> dict[str, Any]:
    counts: dict[str, Any] = {
        "sent": Count("pk"),
        "opened": Count("pk", filter=Q(opened_at__isnull=False)),
        "followed_up": Count("pk", filter=Q(first_follow_up__isnull=False)),
    }
    if connection.vendor == "postgresql":
        counts["median_seconds"] = MedianSeconds(F("first_follow_up") - F("dispatched_at"))
    return counts


def grouped(qs: QuerySet[PromptHistory], *keys: str) -> dict[tuple, Figures]:
    """One aggregate query: figures per distinct value of `keys`."""
    rows = qs.values(*keys).annotate(**_aggregates()).order_by()
    medians = _python_medians(qs, keys) if connection.vendor != "postgresql" else {}
    result: dict[tuple, Figures] = {}
    for row in rows:
        key = tuple(row[k] for k in keys)
        seconds = row.get("median_seconds", medians.get(key))
        hours = None if seconds is None else round(seconds / 3600, 1)
        result[key] = Figures(row["sent"], row["opened"], row["followed_up"], hours)
    return result


def _python_medians(qs: QuerySet[PromptHistory], keys: Iterable[str]) -> dict[tuple, float]:
    """Without percentile_cont: one query reads the followed-up prompts' times only."""
    keys = tuple(keys)
    durations: dict[tuple, list[float]] = defaultdict(list)
    rows = qs.filter(first_follow_up__isnull=False).values_list(
        *keys, "dispatched_at", "first_follow_up"
    )
    for *key, dispatched_at, followed_at in rows.order_by().iterator(chunk_size=10_000):
        durations[tuple(key)].append((followed_at - dispatched_at).total_seconds())
    return {key: statistics.median(values) for key, values in durations.items()}


def visible_scenarios(user: access.User | None) -> QuerySet[Scenario]:
    qs = Scenario.objects.all()
    if user is not None:
        qs = qs.filter(access.in_chapters_or_everyone(user, "chapter"))
    return qs.order_by("name", "pk")


def scenario_report(
    user: access.User | None = None,
    days: int = DEFAULT_DAYS,
    *,
    scenario_ids: Collection[int] | None = None,
    now: datetime | None = None,
) -> list[ScenarioRow]:
    """Figures per scenario the user sees, counted over their chapters' mentors only."""
    scenarios = visible_scenarios(user)
    qs = sent_prompts(user, days, now)
    if scenario_ids is not None:
        scenarios = scenarios.filter(pk__in=list(scenario_ids))
        qs = qs.filter(scenario_id__in=list(scenario_ids))
    figures = grouped(qs, "scenario_id")
    return [
        ScenarioRow(pk, name, figures.get((pk,), Figures()))
        for pk, name in scenarios.values_list("pk", "name")
    ]


def weekly(
    user: access.User | None, scenario_id: int, days: int, now: datetime | None = None
) -> dict[date, Figures]:
    """One scenario's figures per week (Monday, local time) of the prompts' creation."""
    qs = sent_prompts(user, days, now).filter(scenario_id=scenario_id)
    qs = qs.annotate(week=TruncWeek("created_at", tzinfo=timezone.get_current_timezone()))
    weeks = grouped(qs, "week")
    return {_as_date(key[0]): value for key, value in weeks.items()}


def _as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value
