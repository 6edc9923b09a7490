"""The calendar's public API, as other rules (escalation) will call it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from scheduler.models import Activity, ClosedPeriod
from scheduler.workdays import Calendars, NoWorkingDay, WorkCalendar
from tests import factories
from tests.workdays.oracle import OSLO, due

MAUNDY_THURSDAY = date(2026, 4, 2)


def test_it_adds_working_days_over_easter_and_keeps_the_clock_across_dst() -> None:
    calendar = WorkCalendar({})
    wednesday = datetime(2026, 4, 1, 10, 0, tzinfo=OSLO)
    assert calendar.add_working_days(wednesday, 1) == datetime(2026, 4, 7, 10, 0, tzinfo=OSLO)
    friday_cet = datetime(2026, 3, 27, 10, 0, tzinfo=OSLO)
    assert calendar.add_working_days(friday_cet, 1) == datetime(2026, 3, 30, 10, 0, tzinfo=OSLO)
    assert calendar.add_working_days(wednesday, 0) == wednesday
    holiday = datetime(2026, 4, 2, 15, 0, tzinfo=OSLO)
    assert calendar.add_working_days(holiday, 0) == datetime(2026, 4, 7, 0, 0, tzinfo=OSLO)


def test_it_inverts_add_working_days_exactly() -> None:
    calendar = WorkCalendar({date(2026, 4, 8): ("Stengt",)})
    latest = datetime(2026, 4, 9, 9, 30, tzinfo=OSLO)
    earliest = latest - timedelta(days=5)
    ranges = calendar.started_between(earliest, latest, 2)
    moment = datetime(2026, 3, 20, tzinfo=UTC)
    while moment < latest:
        inside = any(low <= moment <= high for low, high in ranges)
        assert inside == (earliest <= due(moment, 2, {date(2026, 4, 8)}) <= latest), moment
        moment += timedelta(minutes=7)
    last = calendar.latest_start(latest, 2)
    assert last is not None and calendar.add_working_days(last, 2) <= latest
    assert calendar.add_working_days(last + timedelta(microseconds=1), 2) > latest


def test_it_gives_up_on_a_calendar_without_working_days_within_a_year() -> None:
    closed = {date(2026, 1, 1) + timedelta(days=i): ("Stengt",) for i in range(800)}
    calendar = WorkCalendar(closed)
    with pytest.raises(NoWorkingDay):
        calendar.add_working_days(datetime(2026, 3, 1, tzinfo=UTC), 1)
    with pytest.raises(NoWorkingDay):
        calendar.started_between(
            datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC), 1
        )


@pytest.mark.django_db
def test_it_filters_any_model_by_the_calendar_of_each_chapter() -> None:
    closed_here, open_there = factories.chapter(), factories.chapter()
    ClosedPeriod.objects.create(
        name="Stengt", first_day=date(2026, 4, 7), last_day=date(2026, 4, 7), chapter=closed_here
    )
    wednesday = datetime(2026, 4, 1, 10, 0, tzinfo=OSLO)
    here = factories.activity(factories.mentor(closed_here), occurred_at=wednesday)
    there = factories.activity(factories.mentor(open_there), occurred_at=wednesday)
    calendars = Calendars.load()
    tuesday = datetime(2026, 4, 7, 12, 0, tzinfo=OSLO)

    q = calendars.window_q(
        "occurred_at", "peer_mentor__chapter_id", tuesday - timedelta(days=1), tuesday, 1
    )

    assert q is not None
    assert list(Activity.objects.filter(q)) == [there]
    assert calendars.for_chapter(closed_here.pk).add_working_days(wednesday, 1) == datetime(
        2026, 4, 8, 10, 0, tzinfo=OSLO
    )
    assert here.pk != there.pk
