"""A concern due for escalation: a finished prompt whose mentor logged nothing since."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth.models import User

from scheduler.models import Chapter, Coordinator, PromptHistory, PromptStatus, Scenario
from tests import factories

DAY = timedelta(days=1)
AFTER_DAYS = 5


def escalating_scenario(**fields: object) -> Scenario:
    return factories.scenario(**{"escalate_after_days": AFTER_DAYS, **fields})


def finished_prompt(
    scenario: Scenario,
    chapter: Chapter,
    now: datetime,
    *,
    finished_days_ago: float = AFTER_DAYS + 1,
    status: str = PromptStatus.DISPATCHED,
    **activity_fields: object,
) -> PromptHistory:
    """A prompt of `scenario` for a new mentor of `chapter`, finished that long before `now`."""
    finished = now - timedelta(days=finished_days_ago)
    mentor = factories.mentor(chapter)
    activity = factories.activity(mentor, occurred_at=finished - 3 * DAY, **activity_fields)
    done = status in (PromptStatus.DISPATCHED, PromptStatus.FAILED, PromptStatus.SKIPPED)
    fields: dict[str, object] = {"created_at": finished, "finished_at": finished if done else None}
    if status == PromptStatus.DISPATCHED:
        fields["dispatched_at"] = finished
    return factories.prompt(scenario, activity, status=status, **fields)


def coordinator(username: str, *chapters: Chapter, email: str | None = None) -> User:
    address = f"{username}@example.org" if email is None else email
    user = User.objects.create_user(username, email=address, is_staff=True)
    Coordinator.objects.create(user=user).chapters.set(chapters)
    return user
