"""The naive design: walk the activities, two queries per activity.

Per activity it looks up the activity's history rows and whether a later
activity exists for the same contact, then checks each scenario in Python.
It is run on a sample and scaled linearly to the whole table.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from scheduler.models import Activity, PromptHistory, Scenario
from scheduler.rules import due_time
from scheduler.workdays import Calendars


@dataclass(frozen=True)
class NaiveSample:
    activities: int
    seconds: float
    due: frozenset[tuple[int, int]]  # (scenario_id, activity_id), held ones included
    queries: int


def sample_ids(sample: int) -> list[int]:
    """Activity ids spread evenly over the table (ids follow insertion, not time)."""
    ids = list(Activity.objects.order_by("pk").values_list("pk", flat=True))
    step = max(len(ids) // max(sample, 1), 1)
    return ids[::step][:sample]


def is_due(
    scenario: Scenario,
    activity: Activity,
    followed_up: bool,
    now: datetime,
    calendars: Calendars | None = None,
) -> bool:
    mentor = activity.peer_mentor
    due_at = due_time(scenario, activity.occurred_at, mentor.chapter_id, calendars)
    return (
        activity.kind == scenario.trigger_kind
        and (activity.wellbeing_concern or not scenario.requires_wellbeing_concern)
        and (scenario.chapter_id is None or scenario.chapter_id == mentor.chapter_id)
        and mentor.is_active
        and now - timedelta(days=scenario.lookback_days) <= due_at <= now
        and not (scenario.skip_if_followed_up and followed_up)
    )


def naive_sample(ids: list[int], now: datetime) -> NaiveSample:
    started = time.perf_counter()
    scenarios = list(Scenario.objects.filter(is_enabled=True))
    calendars = Calendars.load()
    due: set[tuple[int, int]] = set()
    queries = 1
    activities = Activity.objects.select_related("peer_mentor").filter(pk__in=ids)
    for activity in activities.iterator(chunk_size=2000):
        prompted = set(
            PromptHistory.objects.filter(activity_id=activity.pk).values_list(
                "scenario_id", flat=True
            )
        )
        followed_up = Activity.objects.filter(
            peer_mentor_id=activity.peer_mentor_id,
            contact_ref=activity.contact_ref,
            occurred_at__gt=activity.occurred_at,
            occurred_at__lte=now,
        ).exists()
        queries += 2
        for scenario in scenarios:
            if scenario.pk not in prompted and is_due(
                scenario, activity, followed_up, now, calendars
            ):
                due.add((scenario.pk, activity.pk))
    return NaiveSample(len(ids), time.perf_counter() - started, frozenset(due), queries)
