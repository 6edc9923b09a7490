"""The dispatch stage: the send pool, combining device outcomes, recording and stopping."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from unittest import mock

import pytest
from django.utils import timezone

from scheduler.dispatch.ledger import ClaimedPrompt, Ledger, PromptResult
from scheduler.dispatch.pipeline import run_dispatch
from scheduler.dispatch.sending import SendPool, combine
from scheduler.models import DispatchRun, PromptHistory, PromptStatus
from scheduler.push import BasePushBackend, PushMessage, SendOutcome
from scheduler.push.base import Delivery
from tests import factories as f

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.get_fixed_timezone(60))


def due(n: int) -> list[int]:
    f.scenario()
    mentors = [f.mentor() for _ in range(n)]
    for m in mentors:
        f.activity(m, occurred_at=NOW - timedelta(days=3))
    return [m.pk for m in mentors]


class Backend(BasePushBackend):
    """Answers with `answer(message)`; counts calls and the peak of requests in flight."""

    def __init__(self, answer=lambda message: SendOutcome.delivered(), **kwargs: object) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.answer = answer
        self.calls = 0
        self.in_flight = 0
        self.peak = 0
        self.lock = threading.Lock()

    def send(self, message: PushMessage) -> SendOutcome:
        with self.lock:
            self.calls += 1
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            return self.answer(message)
        finally:
            with self.lock:
                self.in_flight -= 1


def statuses() -> dict[int, str]:
    return dict(PromptHistory.objects.values_list("peer_mentor_id", "status"))


def test_it_sends_and_records_every_prompt() -> None:
    mentors = due(3)
    backend = Backend()

    summary = run_dispatch(now=NOW, backend=backend)

    assert backend.calls == 3
    assert statuses() == dict.fromkeys(mentors, PromptStatus.DISPATCHED)
    assert (summary.dispatched, summary.failed, summary.skipped) == (3, 0, 0)


def test_it_keeps_going_when_one_send_fails() -> None:
    mentors = due(3)

    def answer(message: PushMessage) -> SendOutcome:
        if message.peer_mentor_id == mentors[1]:
            raise ConnectionError("boom")
        return SendOutcome.delivered()

    summary = run_dispatch(now=NOW, backend=Backend(answer))

    assert statuses() == {
        mentors[0]: PromptStatus.DISPATCHED,
        mentors[1]: PromptStatus.FAILED,
        mentors[2]: PromptStatus.DISPATCHED,
    }
    assert "boom" in PromptHistory.objects.get(peer_mentor_id=mentors[1]).last_error
    assert (summary.dispatched, summary.failed, summary.skipped) == (2, 1, 0)


def test_it_sends_nothing_when_nothing_is_due() -> None:
    backend = Backend()

    summary = run_dispatch(now=NOW, backend=backend)

    assert backend.calls == 0
    assert not PromptHistory.objects.exists()
    assert (summary.dispatched, summary.failed, summary.skipped) == (0, 0, 0)


def test_it_logs_a_failed_record_and_carries_on(caplog: pytest.LogCaptureFixture) -> None:
    due(2)
    backend = Backend()

    with (
        mock.patch.object(Ledger, "write_rows", side_effect=RuntimeError("database went away")),
        caplog.at_level(logging.ERROR, logger="scheduler.dispatch.ledger"),
    ):
        summary = run_dispatch(now=NOW, backend=backend)

    assert backend.calls == 2
    assert (summary.dispatched, summary.failed, summary.skipped) == (2, 0, 0)
    assert caplog.text.count("could not record prompt") == 2


def test_it_never_has_more_requests_in_flight_than_the_pool(settings) -> None:
    settings.DISPATCH_CONCURRENCY = 4
    due(20)

    def answer(message: PushMessage) -> SendOutcome:
        time.sleep(0.01)
        return SendOutcome.delivered()

    backend = Backend(answer)
    summary = run_dispatch(now=NOW, backend=backend)

    assert summary.dispatched == 20
    assert backend.peak == 4


def test_it_records_an_absurd_retry_after_as_a_bounded_retry(settings) -> None:
    settings.DISPATCH_RETRY_MAX_SECONDS = 3600
    mentors = due(3)
    waits = iter([float("inf"), 1e12, float("nan")])

    def answer(message: PushMessage) -> SendOutcome:
        return SendOutcome.transient("busy", retry_after=next(waits))

    summary = run_dispatch(now=NOW, backend=Backend(answer))

    assert summary.retrying == 3
    rows = PromptHistory.objects.filter(peer_mentor_id__in=mentors)
    assert all(r.status == PromptStatus.RETRY for r in rows)
    assert all(r.next_attempt_at <= timezone.now() + timedelta(hours=1, seconds=5) for r in rows)


def test_it_records_a_result_it_cannot_compute_as_a_plain_retry() -> None:
    mentors = due(2)

    with mock.patch(
        "scheduler.dispatch.ledger.next_attempt_delay",
        side_effect=OverflowError("date value out of range"),
    ):
        summary = run_dispatch(
            now=NOW, backend=Backend(lambda m: SendOutcome.transient("busy", retry_after=5))
        )

    # The fallback retry is computed without the server's value; the run ends normally.
    assert summary.retrying == 2
    assert statuses() == dict.fromkeys(mentors, PromptStatus.RETRY)
    assert DispatchRun.objects.get().finished_at is not None


def test_it_stops_waiting_for_stuck_sends_and_leaves_only_them_in_doubt(settings) -> None:
    settings.DISPATCH_CONCURRENCY = 2
    settings.PUSH_REQUEST_DEADLINE_SECONDS = 0.5
    mentors = due(5)
    release = threading.Event()
    stop = threading.Event()

    def answer(message: PushMessage) -> SendOutcome:
        stop.set()  # SIGTERM arrives while two sends hang
        release.wait(30)
        return SendOutcome.delivered()

    started = time.monotonic()
    summary = run_dispatch(now=NOW, backend=Backend(answer), stop=stop)
    elapsed = time.monotonic() - started
    release.set()

    assert elapsed < 5
    assert summary.in_doubt == 2
    stuck = PromptHistory.objects.filter(needs_review=True)
    assert stuck.count() == 2 and all(r.status == PromptStatus.FAILED for r in stuck)
    # The three never started are given back: due again, no history row.
    assert PromptHistory.objects.count() == 2
    assert set(statuses()) < set(mentors)
    assert "Stopped early" in DispatchRun.objects.get().error


def test_it_counts_a_prompt_delivered_when_any_device_accepted() -> None:
    prompt = ClaimedPrompt(1, 2, 3, 4, "T", "B", 1)
    result = combine(
        prompt,
        [
            ("dead", SendOutcome.permanent("UNREGISTERED", token_invalid=True)),
            ("ok", SendOutcome.delivered()),
        ],
        max_attempts=3,
    )
    assert result.status == PromptStatus.DISPATCHED
    assert result.dead_tokens == (("dead", "UNREGISTERED"),)


def test_it_retries_transient_failures_until_attempts_run_out() -> None:
    outcome = [("t", SendOutcome(Delivery.TRANSIENT, "503"))]

    def status(attempt: int) -> PromptStatus:
        return combine(ClaimedPrompt(1, 2, 3, 4, "T", "B", attempt), outcome, 3).status

    assert [status(1), status(2), status(3)] == [PromptStatus.RETRY] * 2 + [PromptStatus.FAILED]


def test_it_returns_finished_sends_of_the_pool_without_waiting_for_the_rest() -> None:
    gate = threading.Event()

    def answer(message: PushMessage) -> SendOutcome:
        if message.prompt_id == 2:
            gate.wait(5)
        return SendOutcome.delivered()

    with SendPool(Backend(answer), size=2, max_attempts=3) as pool:
        pool.send(ClaimedPrompt(1, 2, 3, 4, "T", "B", 1), ["a-token"])
        pool.send(ClaimedPrompt(2, 2, 3, 5, "T", "B", 1), ["b-token"])
        first: list[PromptResult] = []
        deadline = time.monotonic() + 5
        while not first and time.monotonic() < deadline:
            first = pool.finished(timeout=0.2)
        assert [r.prompt.id for r in first] == [1]
        assert list(pool.in_flight) == [2]
        gate.set()
        assert [r.prompt.id for r in pool.finished(timeout=5)] == [2]
