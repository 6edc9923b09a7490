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
from scheduler.models import Scenario

FETCH = 2000


def scenario_sql(scenario: Scenario) -> str:
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


def floor_pass(now: datetime) -> Pass:
    started = time.perf_counter()
    admitted = held = checksum = 0
    scenarios = list(Scenario.objects.filter(is_enabled=True))
    with connection.cursor() as cursor:
        for scenario in scenarios:
            cursor.execute(scenario_sql(scenario), scenario_params(scenario, now))
            while rows := cursor.fetchmany(FETCH):
                for activity_id, _mentor_id, _occurred_at, not_paused in rows:
                    if not_paused:
                        admitted += 1
                        checksum += fingerprint(scenario.pk, activity_id)
                    else:
                        held += 1
    return Pass(admitted, held, checksum, time.perf_counter() - started)
