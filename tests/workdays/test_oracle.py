"""`run_dispatch --dry-run --at … --json` against a day-by-day oracle, 2025 to 2028.

Activities on every day of the four years (early, mid-morning and late, plus
the repeated and missing hours of both DST changes), for a chapter with
closures of its own and one without, under a closure for every chapter; the
dry run, moved week by week through the years at changing clock times, must
list exactly the prompts the oracle calls due, at the oracle's due times.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from scheduler.models import Activity, ActivityKind, ClosedPeriod, DelayUnit
from tests import factories as f
from tests.workdays.oracle import OSLO, days_of, due

pytestmark = pytest.mark.django_db

FIRST_DAY, LAST_DAY = date(2024, 12, 20), date(2028, 12, 31)
CLOCKS = (time(0, 30), time(10, 0), time(23, 30))
DELAYS = (0, 1, 3)
LOOKBACK_DAYS = 7
EVERY_CHAPTER = ("Julestengt", date(2025, 12, 24), date(2025, 12, 31))
OWN_CHAPTER = (
    ("Sommerstengt", date(2026, 7, 6), date(2026, 7, 24)),
    ("Romjul", date(2027, 12, 20), date(2028, 1, 7)),
)
# The repeated hour (last Sunday of October) twice, and the missing one (March).
DST_NIGHTS = (
    datetime(2025, 10, 26, 0, 30, tzinfo=UTC),
    datetime(2025, 10, 26, 1, 30, tzinfo=UTC),
    datetime(2026, 10, 25, 0, 15, tzinfo=UTC),
    datetime(2026, 10, 25, 1, 15, tzinfo=UTC),
    datetime(2026, 3, 29, 0, 59, tzinfo=UTC),
    datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
    datetime(2027, 3, 28, 1, 30, tzinfo=UTC),
)
RUN_CLOCKS = (time(10, 0), time(0, 30), time(9, 59), time(23, 30), time(3, 0), time(10, 0, 1))


def activity_times() -> list[datetime]:
    days = sorted(days_of(FIRST_DAY, LAST_DAY))
    local = [datetime.combine(day, clock, tzinfo=OSLO) for day in days for clock in CLOCKS]
    return [moment.astimezone(UTC) for moment in local] + list(DST_NIGHTS)


def run_moments() -> list[datetime]:
    moments = []
    day, i = date(2025, 1, 2), 0
    while day <= LAST_DAY:
        moments.append(datetime.combine(day, RUN_CLOCKS[i % len(RUN_CLOCKS)], tzinfo=OSLO))
        day += timedelta(days=LOOKBACK_DAYS)
        i += 1
    return moments


def dry_run_at(moment: datetime, *, naive: bool = False) -> dict[tuple[int, int], str]:
    at = moment.replace(tzinfo=None).isoformat() if naive else moment.isoformat()
    out = StringIO()
    call_command("run_dispatch", "--dry-run", "--json", "--at", at, stdout=out, stderr=StringIO())
    return {
        (p["scenario_id"], p["activity_id"]): p["due_at"]
        for p in json.loads(out.getvalue())["prompts"]
    }


def test_it_agrees_with_the_oracle_day_by_day_over_2025_to_2028() -> None:
    own, other = f.chapter("Eget stengt"), f.chapter("Uten egne")
    name, first, last = EVERY_CHAPTER
    ClosedPeriod.objects.create(name=name, first_day=first, last_day=last)
    for name, first, last in OWN_CHAPTER:
        ClosedPeriod.objects.create(name=name, first_day=first, last_day=last, chapter=own)
    closed = {
        own.pk: days_of(*EVERY_CHAPTER[1:])
        | set().union(*(days_of(a, b) for _, a, b in OWN_CHAPTER)),
        other.pk: days_of(*EVERY_CHAPTER[1:]),
    }
    mentors = {own.pk: f.mentor(own), other.pk: f.mentor(other)}
    scenarios = {
        f.scenario(
            delay_days=n,
            delay_unit=DelayUnit.WORKING_DAYS,
            lookback_days=LOOKBACK_DAYS,
            skip_if_followed_up=False,
        ).pk: n
        for n in DELAYS
    }
    rows = Activity.objects.bulk_create(
        Activity(peer_mentor=m, contact_ref=f"c{i}", kind=ActivityKind.FIRST_CONTACT, occurred_at=t)
        for chapter_id, m in mentors.items()
        for i, t in enumerate(activity_times())
    )
    expected_due = {
        (s, a.pk): due(a.occurred_at, n, closed[a.peer_mentor.chapter_id])
        for s, n in scenarios.items()
        for a in rows
    }
    for i, moment in enumerate(run_moments()):
        listed = dry_run_at(moment, naive=i % 2 == 1)
        earliest = moment.astimezone(UTC) - timedelta(days=LOOKBACK_DAYS)
        expected = {key for key, at in expected_due.items() if earliest <= at <= moment}
        assert set(listed) == expected, f"at {moment.isoformat()}"
        for key in listed:
            assert datetime.fromisoformat(listed[key]) == expected_due[key]
            assert datetime.fromisoformat(listed[key]).utcoffset() is not None


def test_it_names_easter_dst_and_new_year_as_the_calendar_has_them() -> None:
    """Anchors for the oracle itself, read off a calendar."""
    x = datetime
    cases = [
        # Wednesday before Easter 2026: Maundy Thursday, Good Friday, Easter Monday off.
        (x(2026, 4, 1, 10, 0, tzinfo=OSLO), 1, x(2026, 4, 7, 10, 0, tzinfo=OSLO)),
        # Friday in CET, due Monday in CEST at the same clock time.
        (x(2026, 3, 27, 10, 0, tzinfo=OSLO), 1, x(2026, 3, 30, 10, 0, tzinfo=OSLO)),
        (x(2026, 10, 23, 10, 0, tzinfo=OSLO), 1, x(2026, 10, 26, 10, 0, tzinfo=OSLO)),
        # Ascension Day (Thursday 14 May 2026) and 17 May on a Sunday.
        (x(2026, 5, 13, 9, 0, tzinfo=OSLO), 2, x(2026, 5, 18, 9, 0, tzinfo=OSLO)),
        # Whit Monday 2027 (17 May is the Monday after it: both off).
        (x(2027, 5, 14, 9, 0, tzinfo=OSLO), 1, x(2027, 5, 18, 9, 0, tzinfo=OSLO)),
        # Christmas and New Year 2027: 24 and 31 December are working days.
        (x(2027, 12, 24, 9, 0, tzinfo=OSLO), 1, x(2027, 12, 27, 9, 0, tzinfo=OSLO)),
        (x(2027, 12, 31, 9, 0, tzinfo=OSLO), 1, x(2028, 1, 3, 9, 0, tzinfo=OSLO)),
        # On a holiday with no delay: 00:00 the next working day.
        (x(2026, 12, 25, 14, 0, tzinfo=OSLO), 0, x(2026, 12, 28, 0, 0, tzinfo=OSLO)),
    ]
    for occurred_at, n, expected in cases:
        assert due(occurred_at, n, ()) == expected, occurred_at


def test_it_evaluates_quiet_hours_and_pauses_as_if_it_were_that_moment(settings) -> None:
    settings.QUIET_HOURS = (time(21, 0), time(8, 0))
    f.scenario(delay_days=1, delay_unit=DelayUnit.WORKING_DAYS, skip_if_followed_up=False)
    paused = f.mentor(prompts_paused_until=datetime(2026, 4, 7, 12, 0, tzinfo=OSLO))
    f.activity(paused, occurred_at=datetime(2026, 4, 1, 10, 0, tzinfo=OSLO))
    f.activity(f.mentor(), occurred_at=datetime(2026, 4, 1, 10, 0, tzinfo=OSLO))

    def run(at: str) -> dict:
        out = StringIO()
        call_command(
            "run_dispatch", "--dry-run", "--json", "--at", at, stdout=out, stderr=StringIO()
        )
        return json.loads(out.getvalue())

    before = run("2026-04-02T10:00+02:00")  # Maundy Thursday: not due yet
    at_due = run("2026-04-07T10:00+02:00")
    night = run("2026-04-07T22:00")  # no offset: Oslo time, quiet hours
    after_pause = run("2026-04-07T13:00+02:00")

    assert before["prompts"] == [] and before["deferred"] == {}
    assert len(at_due["prompts"]) == 1 and at_due["deferred"] == {"paused": 1}
    assert at_due["prompts"][0]["due_at"] == "2026-04-07T08:00:00+00:00"
    assert night["prompts"] == [] and night["deferred"] == {"quiet_hours": 2}
    assert night["deferred_until"] == "2026-04-08T08:00:00+02:00"
    assert len(after_pause["prompts"]) == 2


def test_it_writes_nothing_and_refuses_at_without_a_dry_run() -> None:
    from django.core.management.base import CommandError

    from scheduler.models import DispatchRun, PromptHistory

    f.scenario(delay_days=1, delay_unit=DelayUnit.WORKING_DAYS)
    f.activity(f.mentor(), occurred_at=datetime(2026, 4, 1, 10, 0, tzinfo=OSLO))
    with pytest.raises(CommandError, match="--at needs --dry-run"):
        call_command("run_dispatch", "--at", "2026-04-07T10:00+02:00", stdout=StringIO())
    with pytest.raises(CommandError, match="not an ISO 8601 time"):
        call_command("run_dispatch", "--dry-run", "--at", "7 April", stdout=StringIO())
    call_command(
        "run_dispatch",
        "--dry-run",
        "--at",
        "2026-04-07T10:00+02:00",
        stdout=StringIO(),
        stderr=StringIO(),
    )
    assert not DispatchRun.objects.exists() and not PromptHistory.objects.exists()
