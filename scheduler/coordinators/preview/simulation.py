"""Scenario preview: what one described test activity would lead to.

The test activity is written inside a sandbox (`scheduler.coordinators.preview.sandbox`)
whose writes are always undone, so the verdict comes from the very queries the
scheduler runs and nothing is left behind.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils.text import capfirst
from django.utils.translation import gettext as _

from scheduler.coordinators import explain
from scheduler.coordinators.preview.sandbox import sandbox
from scheduler.models import Activity, ActivityKind, Chapter, DeviceToken, PeerMentor, Scenario
from scheduler.rules import due_time
from scheduler.workdays import NoWorkingDay

FOLLOW_UP_AFTER = timedelta(minutes=1)


@dataclass(frozen=True)
class TestActivity:
    kind: str
    occurred_at: datetime
    wellbeing_concern: bool
    followed_up: bool


@dataclass(frozen=True)
class Simulation:
    verdict: explain.Verdict
    evaluated_at: datetime
    message: str
    would_send: bool


def simulate(scenario: Scenario, test: TestActivity, now: datetime) -> Simulation:
    """The verdict for `test` at its due time (or now, if that is later)."""
    with sandbox():
        activity, follow_up_at = _write_test_activity(scenario, test)
        at = max(now, due_or_now(scenario, activity, now), follow_up_at or now)
        verdict = explain.verdict_for(activity, scenario, at, None, has_device=True)
    return Simulation(verdict, at, _message(verdict, at, now), verdict.is_due)


def due_or_now(scenario: Scenario, activity: Activity, now: datetime) -> datetime:
    try:
        return due_time(scenario, activity.occurred_at, activity.peer_mentor.chapter_id)
    except NoWorkingDay:
        return now  # the verdict says why nothing is sent


def _write_test_activity(
    scenario: Scenario, test: TestActivity
) -> tuple[Activity, datetime | None]:
    chapter = scenario.chapter or Chapter.objects.create(name=f"preview-{uuid.uuid4()}")
    mentor = PeerMentor.objects.create(name="preview", chapter=chapter)
    DeviceToken.objects.create(peer_mentor=mentor, token=f"preview-{uuid.uuid4()}")
    activity = Activity.objects.create(
        peer_mentor=mentor,
        contact_ref="preview",
        kind=test.kind,
        occurred_at=test.occurred_at,
        wellbeing_concern=test.wellbeing_concern,
    )
    if not test.followed_up:
        return activity, None
    follow_up_at = test.occurred_at + FOLLOW_UP_AFTER
    Activity.objects.create(
        peer_mentor=mentor,
        contact_ref="preview",
        kind=ActivityKind.FOLLOW_UP,
        occurred_at=follow_up_at,
    )
    return activity, follow_up_at


def _message(verdict: explain.Verdict, at: datetime, now: datetime) -> str:
    if not verdict.is_due:
        return verdict.message
    moved = f" {capfirst(verdict.moved)}." if verdict.moved else ""
    if at > now:
        return _("Would be sent on %(date)s.") % {"date": explain.when(at)} + moved
    return _("Would be sent now, by the next dispatch run.") + moved
