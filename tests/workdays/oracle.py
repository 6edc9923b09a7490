"""A plain day-by-day reading of docs/design.md's working-day due rule, straight
from the `holidays` package: the reference the set-based evaluation is held to."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

OSLO = ZoneInfo("Europe/Oslo")
NORWAY = holidays.Norway(years=range(2024, 2031), include_sundays=False)


def is_working_day(day: date, closed: Collection[date]) -> bool:
    return day.weekday() < 5 and day not in NORWAY and day not in closed


def due(occurred_at: datetime, n: int, closed: Collection[date]) -> datetime:
    """The due instant (UTC) of an activity at `occurred_at` with a delay of `n` working days."""
    local = occurred_at.astimezone(UTC).astimezone(OSLO)
    day = local.date()
    if n == 0:
        if is_working_day(day, closed):
            return occurred_at.astimezone(UTC)
        clock = time(0)
        day += timedelta(days=1)
        while not is_working_day(day, closed):
            day += timedelta(days=1)
    else:
        clock = local.time().replace(fold=0)
        counted = 0
        while counted < n:
            day += timedelta(days=1)
            if is_working_day(day, closed):
                counted += 1
    return datetime.combine(day, clock, tzinfo=OSLO).astimezone(UTC)


def days_of(first: date, last: date) -> set[date]:
    return {first + timedelta(days=i) for i in range((last - first).days + 1)}
