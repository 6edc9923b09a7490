"""Working days: Norwegian public holidays and the organisation's closed days.

A working day is a local date (`TIME_ZONE`), Monday to Friday, that is not a
Norwegian public holiday (`holidays.Norway()`, its listed days only, Sundays
not counted) and not inside a `ClosedPeriod` for the chapter.

Public API, for any rule that counts in working days:

- `Calendars.load()`: every chapter's calendar from one query; build it once
  per run (or per scenario evaluation) and ask it `for_chapter(chapter_id)`.
- `WorkCalendar.add_working_days(moment, n)`: the instant `n` working days
  after an instant (the due rule of docs/design.md, "Working days").
- `WorkCalendar.started_between(earliest, latest, n)`: the inverse, as
  closed intervals of start instants `t` with `earliest <= add_working_days(t, n)
  <= latest`; `latest_start(moment, n)` is the latest `t` with
  `add_working_days(t, n) <= moment`. Filter on these in SQL.
- `Calendars.window_q(field, chapter_field, earliest, latest, n)`: that inverse
  as one Django filter over every chapter's calendar, for any model.
- `WorkCalendar.closed_weekdays(first, last)`: the weekdays closed between two
  dates and why, for the words a coordinator reads.

A calendar with no working day within `SEARCH_DAYS` raises `NoWorkingDay`
instead of searching on: callers report it, never loop.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import cache, reduce
from operator import or_
from zoneinfo import ZoneInfo

import holidays
from django.conf import settings
from django.db.models import Q
from django.utils.translation import get_language

# The furthest the calendar looks for the next working day: a year and a day.
SEARCH_DAYS = 367
ONE_DAY = timedelta(days=1)
TICK = timedelta(microseconds=1)


class NoWorkingDay(Exception):
    """No working day within `SEARCH_DAYS` after a date: the calendar is closed."""

    def __init__(self, after: date) -> None:
        super().__init__(f"no working day within {SEARCH_DAYS} days after {after.isoformat()}")
        self.after = after


def local_zone() -> tzinfo:
    return ZoneInfo(settings.TIME_ZONE)


@cache
def _norway(language: str) -> holidays.HolidayBase:
    # Years are added on demand by the package as dates are looked up.
    return holidays.Norway(include_sundays=False, language=language)


def holiday_language() -> str:
    return "no" if (get_language() or "en").startswith(("nb", "no", "nn")) else "en_US"


def public_holiday(day: date) -> str | None:
    """The holiday's name in the active language, or None."""
    return _norway(holiday_language()).get(day)


def is_public_holiday(day: date) -> bool:
    return day in _holidays_of(day.year)


@cache
def _holidays_of(year: int) -> frozenset[date]:
    # A plain set: the package's own lookup parses its key on every call.
    return frozenset(holidays.Norway(years=year, include_sundays=False))


@dataclass(frozen=True)
class Piece:
    """A stretch of start instants [start, end) over which the due time moves alike:
    `due = t + shift`, or `due = fixed` for all of them."""

    start: datetime
    end: datetime
    shift: timedelta | None
    fixed: datetime | None = None

    def due(self, moment: datetime) -> datetime:
        return self.fixed if self.fixed is not None else moment + self.shift  # type: ignore[operator]


class WorkCalendar:
    """The working days of one chapter: weekends, public holidays, its closed periods.

    `closed` maps each closed date to the names of the periods that close it.
    Working-day lookups are memoised; a calendar lives for one run.
    """

    def __init__(self, closed: dict[date, tuple[str, ...]], zone: tzinfo | None = None) -> None:
        self.closed = closed
        self.zone = zone or local_zone()
        self._next: dict[date, date] = {}
        self._pieces: dict[tuple[date, int], list[Piece]] = {}

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and not is_public_holiday(day) and day not in self.closed

    def why_closed(self, day: date) -> list[str]:
        """Why `day` is no working day, in words (empty for a working day or a weekend)."""
        reasons = [name for name in [public_holiday(day)] if name]
        return reasons + list(self.closed.get(day, ()))

    def closed_weekdays(self, first: date, last: date) -> list[tuple[date, list[str]]]:
        """Monday-Friday dates in [first, last] that are no working day, with why:
        the days that moved a due time, not the weekends it would skip anyway."""
        return [
            (day, self.why_closed(day))
            for day in each_day(first, min(last, first + timedelta(days=SEARCH_DAYS)))
            if day.weekday() < 5 and not self.is_working_day(day)
        ]

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after `day`; `NoWorkingDay` past a year."""
        found = self._next.get(day)
        if found is None:
            found = day + ONE_DAY
            while not self.is_working_day(found):
                if (found - day).days >= SEARCH_DAYS:
                    raise NoWorkingDay(day)
                found += ONE_DAY
            self._next[day] = found
        return found

    def first_working_day(self, day: date) -> date:
        """`day` itself if it is a working day, else the next one."""
        return day if self.is_working_day(day) else self.next_working_day(day)

    def nth_working_day_after(self, day: date, n: int) -> date:
        """The n-th working day strictly after `day` (n >= 1)."""
        for _ in range(n):
            day = self.next_working_day(day)
        return day

    def add_working_days(self, moment: datetime, n: int) -> datetime:
        """The instant `n` working days after `moment` (aware), in UTC.

        n >= 1: the n-th working day strictly after the local date of `moment`,
        at its local clock time (a clock time that day lacks moves forward, as
        zoneinfo resolves it; a repeated one takes its first pass).
        n == 0: `moment` on a working day, else 00:00 local on the next one.
        """
        local = moment.astimezone(UTC).astimezone(self.zone)
        if n == 0:
            if self.is_working_day(local.date()):
                return moment.astimezone(UTC)
            target, clock = self.next_working_day(local.date()), time(0)
        else:
            target = self.nth_working_day_after(local.date(), n)
            clock = local.time().replace(fold=0)
        return datetime.combine(target, clock, tzinfo=self.zone).astimezone(UTC)

    def latest_start(self, moment: datetime, n: int) -> datetime | None:
        """The latest instant t with `add_working_days(t, n) <= moment`, within a year
        and `n` working days before it; None if there is none.

        Not every earlier instant qualifies: Friday 23:00 is due Monday 23:00, Saturday
        01:00 on Monday 01:00. To select rows, use `started_between` / `started_q`.
        """
        intervals = self.started_between(moment - reach(n), moment, n)
        return intervals[-1][1] if intervals else None

    def started_between(
        self, earliest: datetime, latest: datetime, n: int
    ) -> list[tuple[datetime, datetime]]:
        """Start instants whose due time lies in [earliest, latest], as sorted,
        disjoint closed intervals (UTC): usually one, two around a repeated hour.

        Raises `NoWorkingDay` when the calendar has none within a year.
        """
        # Instants in UTC: arithmetic on a local time would be wall-clock arithmetic.
        earliest, latest = earliest.astimezone(UTC), latest.astimezone(UTC)
        first = earliest.astimezone(self.zone).date()
        day = latest.astimezone(self.zone).date()
        found: list[tuple[datetime, datetime]] = []
        # A due time is never before its start, so starts lie on or before `latest`'s date.
        # Due dates never fall as start dates grow (though due times may: Friday 23:00 and
        # Saturday 01:00 both go to Monday), so the walk back ends at the first start date
        # whose due date lies before `earliest`'s.
        while self.due_date(day, n) >= first - ONE_DAY:
            for piece in self.pieces(day, n):
                found.extend(piece_interval(piece, earliest, latest))
            day -= ONE_DAY
        return merged(sorted(found))

    def started_q(self, field: str, earliest: datetime, latest: datetime, n: int) -> Q | None:
        """`started_between` as a filter on the datetime `field` (e.g. "finished_at"):
        the rows whose due time, `n` working days after `field`, lies in [earliest,
        latest]; None when no instant qualifies. Raises `NoWorkingDay`."""
        ranges = self.started_between(earliest, latest, n)
        if not ranges:
            return None
        return reduce(
            or_, (Q(**{f"{field}__gte": low, f"{field}__lte": high}) for low, high in ranges)
        )

    def due_date(self, day: date, n: int) -> date:
        return self.first_working_day(day) if n == 0 else self.nth_working_day_after(day, n)

    def pieces(self, day: date, n: int) -> list[Piece]:
        """The start instants of local date `day`, cut where their due time stops
        moving alike (a DST change on either side)."""
        key = (day, n)
        if key not in self._pieces:
            start = datetime.combine(day, time(0), tzinfo=self.zone).astimezone(UTC)
            end = datetime.combine(day + ONE_DAY, time(0), tzinfo=self.zone).astimezone(UTC)
            if n == 0 and not self.is_working_day(day):
                fixed = self.add_working_days(start, 0)
                self._pieces[key] = [Piece(start, end, None, fixed)]
            else:
                self._pieces[key] = list(self._shifted_pieces(start, end, n))
        return self._pieces[key]

    def _shifted_pieces(self, start: datetime, end: datetime, n: int) -> Iterator[Piece]:
        while start < end:
            shift = self.add_working_days(start, n) - start
            stop = end
            if self.add_working_days(end - TICK, n) - (end - TICK) != shift:
                stop = self._first_change(start, end - TICK, shift, n)
            yield Piece(start, stop, shift)
            start = stop

    def _first_change(self, low: datetime, high: datetime, shift: timedelta, n: int) -> datetime:
        # Invariant: the shift holds at `low` and not at `high`; a day has 2**37 microseconds.
        while high - low > TICK:
            middle = low + (high - low) // 2
            if self.add_working_days(middle, n) - middle == shift:
                low = middle
            else:
                high = middle
        return high

    def due_map(self, n: int) -> DueMap:
        return DueMap(self, n)


class DueMap:
    """`add_working_days(t, n)` for many t in a row, one day's pieces at a time:
    a lookup and an addition per activity, not a calendar walk."""

    def __init__(self, calendar: WorkCalendar, n: int) -> None:
        self.calendar = calendar
        self.n = n
        self.piece: Piece | None = None

    def __call__(self, moment: datetime) -> datetime:
        piece = self.piece
        if piece is None or not piece.start <= moment < piece.end:
            day = moment.astimezone(self.calendar.zone).date()
            piece = next(p for p in self.calendar.pieces(day, self.n) if p.start <= moment < p.end)
            self.piece = piece
        return piece.due(moment)


def piece_interval(
    piece: Piece, earliest: datetime, latest: datetime
) -> list[tuple[datetime, datetime]]:
    last = piece.end - TICK
    if piece.fixed is not None:
        return [(piece.start, last)] if earliest <= piece.fixed <= latest else []
    assert piece.shift is not None
    low, high = max(piece.start, earliest - piece.shift), min(last, latest - piece.shift)
    return [(low, high)] if low <= high else []


def merged(intervals: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    for low, high in intervals:
        if out and low <= out[-1][1] + TICK:
            out[-1] = (out[-1][0], max(out[-1][1], high))
        else:
            out.append((low, high))
    return out


def reach(n: int) -> timedelta:
    """How far before a due time its start can lie, with n working days: generous."""
    return timedelta(days=SEARCH_DAYS + 7 * n)


class Calendars:
    """Every chapter's working-day calendar, from one query of `ClosedPeriod`.

    Chapters with closed periods of their own get their own calendar; every
    other chapter shares the calendar of the periods for every chapter.
    """

    def __init__(self, common: dict[date, tuple[str, ...]], own: dict[int, dict]) -> None:
        zone = local_zone()
        self.common = WorkCalendar(common, zone)
        self.own = {
            chapter_id: WorkCalendar(merge_closed(common, days), zone)
            for chapter_id, days in own.items()
        }

    @classmethod
    def load(cls) -> Calendars:
        from scheduler.models import ClosedPeriod

        common: dict[date, tuple[str, ...]] = {}
        own: dict[int, dict[date, tuple[str, ...]]] = {}
        rows = ClosedPeriod.objects.order_by("first_day", "pk")
        for name, first, last, chapter_id in rows.values_list(
            "name", "first_day", "last_day", "chapter_id"
        ):
            days = common if chapter_id is None else own.setdefault(chapter_id, {})
            for day in each_day(first, last):
                days[day] = (*days.get(day, ()), name)
        return cls(common, own)

    def for_chapter(self, chapter_id: int | None) -> WorkCalendar:
        if chapter_id is None:
            return self.common
        return self.own.get(chapter_id, self.common)

    def groups(self, chapter_id: int | None = None) -> list[tuple[WorkCalendar, Group]]:
        """The distinct calendars a scenario meets, each with the chapters it covers:
        `Group(ids, others=False)` is those chapters, `others=True` every chapter but
        `ids`. A scenario for one chapter meets one calendar."""
        if chapter_id is not None:
            return [(self.for_chapter(chapter_id), Group(frozenset({chapter_id}), False))]
        groups = [(cal, Group(frozenset({cid}), False)) for cid, cal in sorted(self.own.items())]
        return [*groups, (self.common, Group(frozenset(self.own), True))]

    def window_q(
        self,
        field: str,
        chapter_field: str,
        earliest: datetime,
        latest: datetime,
        n: int,
        chapter_id: int | None = None,
    ) -> Q | None:
        """Rows whose due time, `n` working days after `field` in the calendar of the
        chapter in `chapter_field`, lies in [earliest, latest]: one filter, a few ranges
        per distinct calendar. A calendar without working days adds nothing (the system
        check reports it). None when no row can qualify.

        E.g. `calendars.window_q("finished_at", "peer_mentor__chapter_id", now - lookback,
        now, n)` on PromptHistory.
        """
        parts = []
        for calendar, group in self.groups(chapter_id):
            try:
                times = calendar.started_q(field, earliest, latest, n)
            except NoWorkingDay:
                continue
            if times is not None:
                parts.append(times & group.q(chapter_field))
        return reduce(or_, parts) if parts else None

    def all(self) -> Iterable[tuple[int | None, WorkCalendar]]:
        yield None, self.common
        yield from self.own.items()


@dataclass(frozen=True)
class Group:
    """The chapters a calendar covers: `ids`, or with `others` every chapter but `ids`."""

    ids: frozenset[int]
    others: bool

    def q(self, chapter_field: str) -> Q:
        chapters = Q(**{f"{chapter_field}__in": sorted(self.ids)})
        if self.others:
            return ~chapters if self.ids else Q()
        return chapters


def merge_closed(
    common: dict[date, tuple[str, ...]], own: dict[date, tuple[str, ...]]
) -> dict[date, tuple[str, ...]]:
    closed = dict(common)
    for day, names in own.items():
        closed[day] = (*closed.get(day, ()), *names)
    return closed


def each_day(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += ONE_DAY
