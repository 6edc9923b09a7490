"""A run that has ended, well or on a lost database, frees its claims for the next run at once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import OperationalError
from django.utils import timezone

from scheduler.dispatch import pipeline
from scheduler.dispatch.ledger import Ledger
from scheduler.dispatch.pipeline import run_dispatch
from scheduler.models import DispatchRun, PromptHistory, PromptStatus
from scheduler.push import locmem
from tests import factories as f

pytestmark = pytest.mark.django_db

PROMPTS = 4
LOST = "server closed the connection unexpectedly"


@pytest.fixture
def mark_lost(monkeypatch: pytest.MonkeyPatch, settings) -> None:  # type: ignore[no-untyped-def]
    """The connection drops under the "sending" mark: the wave stays claimed, unsent."""
    settings.DISPATCH_CONCURRENCY = PROMPTS  # one wave holds every prompt
    settings.DISPATCH_BATCH_SIZE = 2

    def lose_the_database(self: Ledger, prompts: list[object], now: object) -> list[object]:
        if prompts:
            raise OperationalError(LOST)
        return []

    monkeypatch.setattr(Ledger, "mark_sending", lose_the_database)


def due_prompts() -> None:
    f.scenario()
    for mentor in f.mentors(PROMPTS, f.chapter(), tokens=1):
        f.activity(mentor, occurred_at=timezone.now() - timedelta(days=3))


def claimed_unsent() -> int:
    return PromptHistory.objects.filter(
        status=PromptStatus.PENDING, sending_started_at__isnull=True
    ).count()


def test_it_frees_the_claims_of_a_run_that_carried_on_after_a_lost_connection(
    mark_lost: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    due_prompts()
    assert run_dispatch().dispatched == 0
    assert claimed_unsent() == PROMPTS
    monkeypatch.undo()  # the database is back

    # Right away, long before DISPATCH_STALE_CLAIM_SECONDS: the run has ended.
    assert run_dispatch().dispatched == PROMPTS
    assert len(locmem.outbox) == PROMPTS


def test_it_frees_the_claims_of_a_run_that_died_on_a_lost_connection(
    mark_lost: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    due_prompts()
    evaluate = pipeline.evaluate

    def then_lose_the_database(*args: Any, **kwargs: Any) -> Iterator[object]:
        yield from evaluate(*args, **kwargs)
        raise OperationalError(LOST)

    monkeypatch.setattr(pipeline, "evaluate", then_lose_the_database)
    with pytest.raises(OperationalError):
        run_dispatch()
    died = DispatchRun.objects.get()
    assert died.finished_at is not None and LOST in died.error
    assert claimed_unsent() == PROMPTS
    monkeypatch.undo()  # the database is back

    assert run_dispatch().dispatched == PROMPTS
    assert len(locmem.outbox) == PROMPTS
