"""Per-scenario figures for coordinators: sent, opened, followed up, median time to follow-up.

"Followed up": the prompted mentor's first non-withdrawn activity for the same
contact after the prompt was dispatched and within FOLLOW_UP_WINDOW_DAYS.
Each report is one set-based query over PromptHistory, never one per prompt.
On PostgreSQL it is one statement (a hash join for the follow-ups,
percentile_cont for the median). Elsewhere (SQLite) the follow-up is a
correlated subquery on Activity's (peer_mentor, contact_ref, occurred_at)
index, and a second query reads only the followed-up prompts' two timestamps
so the median is taken in Python.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import (
    Count,
    DateTimeField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import TruncWeek
from django.utils import timezone
from django.utils.translation import gettext as _

from scheduler import access
from scheduler.models import Activity, Escalation, PromptHistory, PromptStatus, Scenario

DEFAULT_DAYS = 30
CHART_DAYS = 84  # twelve weeks on the scenario page


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
    # Concerns escalated to coordinators in the period (scheduler/escalation).
    escalated: int = 0

    def as_dict(self) -> dict[str, Any]:
        f = self.figures
        return {
            "scenario_id": self.scenario_id,
            "name": self.name,
            "sent": f.sent,
            "opened": f.opened,
            "followed_up": f.followed_up,
            "median_follow_up_hours": f.median_follow_up_hours,
            "escalated": self.escalated,
        }


def rate_text(part: int, whole: int) -> str:
    """A rate is never shown without its counts: "12 of 40, 30 %"."""
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
    # The (peer_mentor, contact_ref, occurred_at) index yields the first one directly.
    return Subquery(later.order_by("occurred_at").values("occurred_at")[:1])


def since(days: int, now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=days)


# "Sent", wherever a coordinator reads it: the push service accepted the prompt.
# Other counts (every prompt in the log, failed ones too) are labelled for what they are.
SENT = Q(status=PromptStatus.DISPATCHED, dispatched_at__isnull=False)


def sent_prompts(user: access.User | None, start: datetime) -> QuerySet[PromptHistory]:
    """Sent prompts created since `start`, to the user's chapters' mentors."""
    qs = PromptHistory.objects.filter(SENT, created_at__gte=start)
    if user is not None:
        qs = qs.filter(access.in_chapters(user, "peer_mentor__chapter"))
    return qs


def grouped(qs: QuerySet[PromptHistory], start: datetime, *keys: str) -> dict[tuple, Figures]:
    """One aggregate query: figures per distinct value of `keys`."""
    try:
        if connection.vendor == "postgresql":
            rows, medians = _postgres_rows(qs, start, keys), {}
        else:
            qs = qs.annotate(first_follow_up=first_follow_up())
            rows, medians = _portable_rows(qs, keys), _python_medians(qs, keys)
    except EmptyResultSet:  # e.g. a coordinator without chapters, an empty page
        return {}
    result: dict[tuple, Figures] = {}
    for row in rows:
        key = tuple(_key_part(v) for v in row[: len(keys)])
        sent, opened, followed, *rest = row[len(keys) :]
        seconds = rest[0] if rest else medians.get(key)
        hours = None if seconds is None else round(float(seconds) / 3600, 1)
        result[key] = Figures(sent, opened, followed, hours)
    return result


def _postgres_rows(qs: QuerySet[PromptHistory], start: datetime, keys: tuple[str, ...]) -> list:
    """The prompts once (materialised), their follow-ups by one hash join, then the counts.

    At a million prompts this is about three times faster than probing the
    follow-up index once per prompt (docs/operations.md has the figures).
    """
    # Explicit aliases: the CTE's column names must not depend on how the ORM names them.
    columns = {f"key_{i}": F(key) for i, key in enumerate(keys)}
    base, params = (
        qs.values(
            prompt_id=F("pk"),
            mentor_id=F("peer_mentor_id"),
            contact=F("activity__contact_ref"),
            sent_at=F("dispatched_at"),
            opened=F("opened_at"),
            **columns,
        )
        .order_by()
        .query.sql_with_params()
    )
    names = ", ".join(f"p.{name}" for name in columns)
    activity = connection.ops.quote_name(Activity._meta.db_table)
    sql = f"""
        WITH p AS MATERIALIZED ({base}),
        f AS (
            SELECT p.prompt_id, MIN(a.occurred_at) AS first_at
            FROM p JOIN {activity} a
              ON a.peer_mentor_id = p.mentor_id AND a.contact_ref = p.contact
             AND a.occurred_at > p.sent_at AND a.occurred_at <= p.sent_at + %s
            WHERE a.withdrawn_at IS NULL AND a.occurred_at > %s
            GROUP BY p.prompt_id
        )
        SELECT {names}, COUNT(*), COUNT(p.opened), COUNT(f.first_at),
               percentile_cont(0.5) WITHIN GROUP
                 (ORDER BY EXTRACT(EPOCH FROM f.first_at - p.sent_at))
        FROM p LEFT JOIN f ON f.prompt_id = p.prompt_id
        GROUP BY {names}
    """
    with connection.cursor() as cursor:
        arguments: list[Any] = [*params, window(), start]
        cursor.execute(sql, arguments)
        return cursor.fetchall()


def _portable_rows(qs: QuerySet[PromptHistory], keys: tuple[str, ...]) -> list:
    """Elsewhere: the correlated subquery once per prompt in a derived table, counted outside.

    In a plain GROUP BY the ORM would repeat the subquery in every aggregate that reads it.
    """
    columns = {f"key_{i}": F(key) for i, key in enumerate(keys)}
    inner, params = (
        qs.values(opened=F("opened_at"), first_at=F("first_follow_up"), **columns)
        .order_by()
        .query.sql_with_params()
    )
    names = ", ".join(columns)
    sql = (
        f"SELECT {names}, COUNT(*), COUNT(opened), COUNT(first_at) "
        f"FROM ({inner}) AS prompt GROUP BY {names}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _python_medians(qs: QuerySet[Any], keys: Iterable[str]) -> dict[tuple, float]:
    """Without percentile_cont: one query reads the followed-up prompts' times only."""
    keys = tuple(keys)
    durations: dict[tuple, list[float]] = defaultdict(list)
    rows = qs.filter(first_follow_up__isnull=False).values_list(
        *keys, "dispatched_at", "first_follow_up"
    )
    for *key, dispatched_at, followed_at in rows.order_by().iterator(chunk_size=10_000):
        durations[tuple(key)].append((followed_at - dispatched_at).total_seconds())
    return {
        tuple(_key_part(v) for v in key): statistics.median(values)
        for key, values in durations.items()
    }


def _key_part(value: object) -> object:
    """Raw rows carry no ORM converters: a week comes back as text (SQLite) or in UTC."""
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value


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
    start = since(days, now)
    qs = sent_prompts(user, start)
    if scenario_ids is not None:
        scenarios = scenarios.filter(pk__in=list(scenario_ids))
        qs = qs.filter(scenario_id__in=list(scenario_ids))
    figures = grouped(qs, start, "scenario_id")
    escalated = escalated_per_scenario(user, start, scenario_ids)
    return [
        ScenarioRow(pk, name, figures.get((pk,), Figures()), escalated.get(pk, 0))
        for pk, name in scenarios.values_list("pk", "name")
    ]


def escalated_per_scenario(
    user: access.User | None, start: datetime, scenario_ids: Collection[int] | None = None
) -> dict[int, int]:
    """Escalations created since `start`, per scenario, of the user's chapters: one query."""
    qs = Escalation.objects.filter(created_at__gte=start)
    if user is not None:
        qs = qs.filter(access.in_chapters(user, "prompt__peer_mentor__chapter"))
    if scenario_ids is not None:
        qs = qs.filter(prompt__scenario_id__in=list(scenario_ids))
    rows = qs.values_list("prompt__scenario_id").annotate(n=Count("pk")).order_by()
    return dict(rows)


def weekly(
    user: access.User | None, scenario_id: int, days: int, now: datetime | None = None
) -> dict[date, Figures]:
    """One scenario's figures per week (Monday, local time) of the prompts' creation."""
    start = since(days, now)
    qs = sent_prompts(user, start).filter(scenario_id=scenario_id)
    qs = qs.annotate(week=TruncWeek("created_at", tzinfo=timezone.get_current_timezone()))
    weeks = grouped(qs, start, "week")
    return {key[0]: value for key, value in weeks.items()}
