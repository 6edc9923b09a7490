"""The due prompts of a scenario, streamed oldest due first, from the rule's query.

`due_prompts` reads `scheduler.rules.due_activities` page by page and turns
each row into a `DuePrompt` with its due time (in working days, one stream per
closed-day calendar, merged), so the dispatch and the dry run see exactly what
the rule's sentence says.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, NamedTuple

from django.db import connections
from django.db.models import Q, QuerySet
from django.db.models.lookups import Exact

from scheduler.models import Scenario
from scheduler.rules import (
    conditions_for,
    delay_of,
    due_activities,
    group_window,
    lookback_of,
)
from scheduler.workdays import Calendars, WorkCalendar


class DuePrompt(NamedTuple):
    """One (mentor, scenario, activity) that is due; a tuple, as millions may pass by."""

    peer_mentor_id: int
    scenario_id: int
    activity_id: int
    due_at: datetime
    # Set when the prompt already has a history row (a retry or an abandoned claim).
    history_id: int | None = None
    # The deferring condition that holds it back now (e.g. "paused"), if any.
    held_by: str | None = None


# What a dry run reports instead of a prompt whose due time left the lookback unsent.
TOO_LATE = "too_late"


def due_prompts(
    scenario: Scenario,
    now: datetime,
    *,
    reclaimable: Q | None = None,
    too_late_within: timedelta | None = None,
    mentor_filter: Q | Exact | None = None,
    page_size: int = 10_000,
) -> Iterator[DuePrompt]:
    """Stream the scenario's due (and deferred) prompts, oldest due first.

    With `too_late_within` (a dry run), never-prompted activities whose due
    time left the lookback during that time before now come first, held by
    TOO_LATE: the rule's own query counts them, whatever else holds them.

    In working days, one stream per distinct closed-day calendar, merged; in
    each, activities come in the order they occurred (a Saturday 01:00 and the
    Friday 23:00 before it are both due on Monday, the Saturday one first).
    """
    stream = PromptStream(scenario, now, reclaimable, too_late_within, mentor_filter, page_size)
    if not scenario.counts_working_days:
        delay = delay_of(scenario)
        return stream.rows(None, lambda occurred_at: occurred_at + delay)
    widened_by = too_late_within or timedelta(0)
    streams = [
        stream.rows(group_window(scenario, now, cal, group, widened_by), due_map(cal, scenario))
        for cal, group in Calendars.load().groups(scenario.chapter_id)
    ]
    return streams[0] if len(streams) == 1 else heapq.merge(*streams, key=lambda p: p.due_at)


def due_map(calendar: WorkCalendar, scenario: Scenario) -> Callable[[datetime], datetime]:
    return calendar.due_map(scenario.delay_days)


@dataclass(frozen=True)
class PromptStream:
    scenario: Scenario
    now: datetime
    reclaimable: Q | None
    too_late_within: timedelta | None
    mentor_filter: Q | Exact | None
    page_size: int

    def rows(self, window: Q | None, due_of: Callable[[datetime], datetime]) -> Iterator[DuePrompt]:
        """Pages are read whole, keyset by (occurred_at, pk), so no statement stays
        open while the run writes: on SQLite an open read would pin an old snapshot
        and make the run's next write fail as soon as another connection commits."""
        scenario, now, reclaimable = self.scenario, self.now, self.reclaimable
        deferring = [c.key for c in conditions_for(scenario) if c.defers]
        columns = ["pk", "peer_mentor_id", "occurred_at", *(f"meets_{k}" for k in deferring)]
        if reclaimable is not None:
            columns.append("history_id")
        qs = due_activities(
            scenario,
            now,
            with_deferred=True,
            reclaimable=reclaimable,
            too_late_within=self.too_late_within,
            window=window,
            mentor_filter=self.mentor_filter,
        ).order_by("occurred_at", "pk")
        oldest_due = None
        if self.too_late_within is not None:
            oldest_due = now.astimezone(UTC) - lookback_of(scenario)
        zone = connections[qs.db].timezone
        after = Q()
        while True:
            page = driver_rows(qs.filter(after).values_list(*columns)[: self.page_size])
            yield from _page_prompts(
                page, scenario.pk, due_of, deferring, zone, oldest_due, reclaimable
            )
            if len(page) < self.page_size:
                return
            last_pk, last_at = page[-1][0], aware(page[-1][2], zone)
            after = Q(occurred_at__gt=last_at) | Q(occurred_at=last_at, pk__gt=last_pk)


def _page_prompts(
    page: list[tuple[Any, ...]],
    scenario_id: int,
    due_of: Callable[[datetime], datetime],
    deferring: list[str],
    zone: tzinfo | None,
    oldest_due: datetime | None,
    reclaimable: Q | None,
) -> Iterator[DuePrompt]:
    """A page's rows as prompts. A dry run over a dense history passes tens of thousands
    through here, so the loop does per row only what the row needs."""
    new = tuple.__new__
    flags_end = 3 + len(deferring)
    with_history = reclaimable is not None
    for row in page:
        occurred_at = row[2]
        if occurred_at.tzinfo is None and zone is not None:
            occurred_at = occurred_at.replace(tzinfo=zone)
        due_at = due_of(occurred_at)
        held_by = None
        if oldest_due is not None and due_at < oldest_due:
            held_by = TOO_LATE
        elif flags_end > 3 and not all(row[3:flags_end]):
            held_by = next(k for k, ok in zip(deferring, row[3:flags_end], strict=True) if not ok)
        history_id = row[flags_end] if with_history else None
        yield new(DuePrompt, (row[1], scenario_id, row[0], due_at, history_id, held_by))


def driver_rows(qs: QuerySet[Any, Any]) -> list[tuple[Any, ...]]:
    """A values_list() query's rows as the database driver returns them.

    Django would pass every value through its converters; on SQLite that
    makes each datetime aware one call at a time, which costs a dry run over
    a large history more than its queries. `aware` does that for the one
    datetime the stream reads; flags stay 0/1 there, which `all()` reads alike.
    """
    sql, params = qs.query.sql_with_params()
    with connections[qs.db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def aware(value: datetime, zone: tzinfo | None) -> datetime:
    # SQLite's driver returns the stored time without its zone (the connection's,
    # UTC unless DATABASES sets TIME_ZONE); PostgreSQL's is aware already. No
    # zone: USE_TZ is off and times stay naive, as Django would leave them.
    return value if value.tzinfo is not None or zone is None else value.replace(tzinfo=zone)
