"""The floor: one hand-written anti-join per scenario, raw cursor, same columns.

It uses the same indexes the ORM query can use (activity kind+occurred_at,
the follow-up index, the history's scenario+activity index) and does only what
any implementation must: run the query and look at each row once.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from django.db import connection

from bench.evaluation import Pass, fingerprint
from scheduler.models import DelayUnit, Scenario
from scheduler.workdays import Calendars, WorkCalendar

FETCH = 2000


def scenario_sql(scenario: Scenario, chapters: str = "") -> str:
    """`chapters`: an extra condition on the mentor's chapter (a working-day calendar's)."""
    where = [
        "a.kind = %s",
        "a.occurred_at >= %s",
        "a.occurred_at <= %s",
        "m.is_active",
        "NOT EXISTS (SELECT 1 FROM scheduler_prompthistory h"
        " WHERE h.scenario_id = %s AND h.activity_id = a.id)",
    ]
    if scenario.requires_wellbeing_concern:
        where.append("a.wellbeing_concern")
    if scenario.chapter_id is not None:
        where.append("m.chapter_id = %s")
    if chapters:
        where.append(chapters)
    if scenario.skip_if_followed_up:
        where.append(
            "NOT EXISTS (SELECT 1 FROM scheduler_activity l"
            " WHERE l.peer_mentor_id = a.peer_mentor_id AND l.contact_ref = a.contact_ref"
            " AND l.occurred_at > a.occurred_at AND l.occurred_at <= %s)"
        )
    return (
        "SELECT a.id, a.peer_mentor_id, a.occurred_at,"
        " (m.prompts_paused_until IS NULL OR m.prompts_paused_until <= %s)"
        " FROM scheduler_activity a JOIN scheduler_peermentor m ON m.id = a.peer_mentor_id"
        f" WHERE {' AND '.join(where)} ORDER BY a.occurred_at, a.id"
    )


def scenario_params(
    scenario: Scenario, now: datetime, window: tuple[datetime, datetime] | None = None
) -> list[object]:
    latest = now - timedelta(days=scenario.delay_days)
    earliest = latest - timedelta(days=scenario.lookback_days)
    if window is not None:
        earliest, latest = window
    params: list[object] = [now, scenario.trigger_kind, earliest, latest, scenario.pk]
    if scenario.chapter_id is not None:
        params.append(scenario.chapter_id)
    if scenario.skip_if_followed_up:
        params.append(now)
    adapt = connection.ops.adapt_datetimefield_value
    return [adapt(p) if isinstance(p, datetime) else p for p in params]


def windows(
    scenario: Scenario, now: datetime, widened_by: timedelta = timedelta(0)
) -> list[tuple[str, list[object], WorkCalendar | None]]:
    """The scenario's queries: one in 24-hour days; in working days one per range of
    start times per calendar (the calendar's inverse, which any implementation needs)."""
    if scenario.delay_unit != DelayUnit.WORKING_DAYS:
        latest = now - timedelta(days=scenario.delay_days)
        window = (latest - timedelta(days=scenario.lookback_days) - widened_by, latest)
        return [(scenario_sql(scenario), scenario_params(scenario, now, window), None)]
    queries = []
    earliest = now - timedelta(days=scenario.lookback_days) - widened_by
    for calendar, group in Calendars.load().groups(scenario.chapter_id):
        ids = ", ".join(str(i) for i in sorted(group.ids)) or "NULL"
        chapters = f"m.chapter_id {'NOT IN' if group.others else 'IN'} ({ids})"
        if group.others and not group.ids:
            chapters = ""
        for window in calendar.started_between(earliest, now, scenario.delay_days):
            params = scenario_params(scenario, now, window)
            queries.append((scenario_sql(scenario, chapters), params, calendar))
    return queries


def floor_pass(now: datetime) -> Pass:
    started = time.perf_counter()
    admitted = held = checksum = 0
    scenarios = list(Scenario.objects.filter(is_enabled=True))
    with connection.cursor() as cursor:
        for scenario in scenarios:
            for sql, params, _calendar in windows(scenario, now):
                cursor.execute(sql, params)
                while rows := cursor.fetchmany(FETCH):
                    for activity_id, _mentor_id, _occurred_at, not_paused in rows:
                        if not_paused:
                            admitted += 1
                            checksum += fingerprint(scenario.pk, activity_id)
                        else:
                            held += 1
    return Pass(admitted, held, checksum, time.perf_counter() - started)
