"""A retry obeys the same mentor rules as a new prompt: paused waits, inactive is closed."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from scheduler.dispatch.pipeline import run_dispatch
from scheduler.dispatch.policy import PAUSED
from scheduler.models import PromptHistory, PromptStatus
from scheduler.push import locmem
from tests import factories as f

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.get_fixed_timezone(60))
HOUR = timedelta(hours=1)


def retry_due_for(**mentor_fields: object) -> PromptHistory:
    s = f.scenario()
    m = f.mentor(**mentor_fields)
    a = f.activity(m, occurred_at=NOW - timedelta(days=3, hours=2))
    return f.prompt(
        s,
        a,
        status=PromptStatus.RETRY,
        attempts=1,
        due_at=NOW - 2 * HOUR,
        next_attempt_at=NOW - HOUR,
    )


def test_it_holds_a_retry_back_while_the_mentor_is_paused_and_sends_it_after() -> None:
    row = retry_due_for(prompts_paused_until=NOW + HOUR)

    held = run_dispatch(now=NOW)
    row.refresh_from_db()
    assert (held.dispatched, held.deferred) == (0, {PAUSED: 1})
    assert row.status == PromptStatus.RETRY and locmem.outbox == []

    assert run_dispatch(now=NOW + 2 * HOUR).dispatched == 1
    row.refresh_from_db()
    assert row.status == PromptStatus.DISPATCHED and len(locmem.outbox) == 1


def test_it_closes_a_retry_for_a_mentor_who_became_inactive_without_sending_it() -> None:
    row = retry_due_for(is_active=False)

    assert run_dispatch(now=NOW).dispatched == 0
    row.refresh_from_db()
    assert row.status == PromptStatus.SKIPPED and locmem.outbox == []
    assert "No longer due" in row.last_error
