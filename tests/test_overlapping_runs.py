"""Runs that overlap never send a prompt twice (PostgreSQL, one connection per run)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from scheduler.dispatch.pipeline import run_dispatch
from scheduler.dispatch.summary import DispatchSummary
from scheduler.models import PromptHistory, PromptStatus
from scheduler.push import BasePushBackend, PushMessage, SendOutcome
from tests import factories as f

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


class SlowRecordingBackend(BasePushBackend):
    sent: Counter[tuple[int, int]] = Counter()
    lock = threading.Lock()

    def send(self, message: PushMessage) -> SendOutcome:
        time.sleep(0.02)
        with self.lock:
            self.sent[(message.prompt_id, message.scenario_id)] += 1
        return SendOutcome.delivered()


def run_together(n_runs: int) -> list[DispatchSummary]:
    barrier = threading.Barrier(n_runs)
    summaries: list[DispatchSummary] = []

    def one_run() -> None:
        try:
            barrier.wait()
            summaries.append(run_dispatch(backend=SlowRecordingBackend()))
        finally:
            connection.close()

    threads = [threading.Thread(target=one_run) for _ in range(n_runs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return summaries


def test_it_sends_each_prompt_exactly_once_when_runs_overlap(settings) -> None:
    settings.DISPATCH_BATCH_SIZE = 10
    settings.DISPATCH_CONCURRENCY = 4
    SlowRecordingBackend.sent.clear()
    scenarios = [f.scenario(), f.scenario()]
    chapter = f.chapter()
    for _ in range(40):
        f.activity(f.mentor(chapter), occurred_at=timezone.now() - timedelta(days=3, minutes=1))

    summaries = run_together(4)

    assert len(summaries) == 4
    expected = 40 * len(scenarios)
    assert sum(s.dispatched for s in summaries) == expected
    assert len(SlowRecordingBackend.sent) == expected
    assert set(SlowRecordingBackend.sent.values()) == {1}
    assert PromptHistory.objects.count() == expected
    assert set(PromptHistory.objects.values_list("status", flat=True)) == {PromptStatus.DISPATCHED}
    # Every run claimed something or found it taken; none sent what another inserted.
    assert sum(1 for s in summaries if s.dispatched) >= 1
