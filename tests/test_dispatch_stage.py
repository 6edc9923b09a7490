"""The dispatch stage on its own: push backend and history writer both fakes."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from unittest import mock

import pytest

from scheduler import delivery
from scheduler.claims import ClaimedPrompt
from scheduler.models import PromptStatus
from scheduler.push import BasePushBackend, PushMessage, SendOutcome
from scheduler.push.base import Delivery

pytestmark = pytest.mark.django_db


class FakeWriter:
    def __init__(self, fail_on_record: bool = False) -> None:
        self.records: list[tuple[int, dict[str, object]]] = []
        self.fail_on_record = fail_on_record

    def start_sending(self, prompts: Sequence[ClaimedPrompt], now: datetime) -> set[int]:
        return {p.id for p in prompts}

    def record(self, changes_by_id: dict[int, dict[str, object]]) -> None:
        if self.fail_on_record:
            raise RuntimeError("database went away")
        self.records.extend(changes_by_id.items())

    def release(self, prompts: Iterable[ClaimedPrompt], now: datetime) -> None:
        pass


def prompts(n: int) -> list[tuple[ClaimedPrompt, list[str]]]:
    return [
        (ClaimedPrompt(i, 100 + i, 7, 200 + i, 0, "Title", "Body"), [f"token-{i}"])
        for i in range(1, n + 1)
    ]


def run_stage(backend: BasePushBackend, writer: FakeWriter, batch: list) -> list:
    results = []
    for wave in delivery.dispatch([batch], backend, writer, concurrency=4):
        delivery.record_results(writer, wave)
        results += wave
    return results


def summary_of(results: list) -> tuple[int, int, int]:
    statuses = [r.status for r in results]
    return (
        statuses.count(PromptStatus.DISPATCHED),
        statuses.count(PromptStatus.FAILED),
        statuses.count(PromptStatus.SKIPPED),
    )


def test_it_sends_and_records_every_prompt() -> None:
    backend = mock.Mock(spec=BasePushBackend)
    backend.send.return_value = SendOutcome.delivered()
    writer = FakeWriter()

    results = run_stage(backend, writer, prompts(3))

    assert backend.send.call_count == 3
    assert sorted(pid for pid, _ in writer.records) == [1, 2, 3]
    assert {c["status"] for _, c in writer.records} == {PromptStatus.DISPATCHED}
    assert summary_of(results) == (3, 0, 0)


def test_it_keeps_going_when_one_send_fails() -> None:
    def send(message: PushMessage) -> SendOutcome:
        if message.prompt_id == 2:
            raise ConnectionError("boom")
        return SendOutcome.delivered()

    backend = mock.Mock(spec=BasePushBackend)
    backend.send.side_effect = send
    writer = FakeWriter()

    results = run_stage(backend, writer, prompts(3))

    statuses = dict((pid, c["status"]) for pid, c in writer.records)
    assert statuses == {
        1: PromptStatus.DISPATCHED,
        2: PromptStatus.FAILED,
        3: PromptStatus.DISPATCHED,
    }
    assert "boom" in dict(writer.records)[2]["last_error"]
    assert summary_of(results) == (2, 1, 0)


def test_it_sends_nothing_when_nothing_is_due() -> None:
    backend = mock.Mock(spec=BasePushBackend)
    writer = FakeWriter()

    results = run_stage(backend, writer, [])

    backend.send.assert_not_called()
    assert writer.records == []
    assert summary_of(results) == (0, 0, 0)


def test_it_logs_a_failed_record_and_carries_on(caplog: pytest.LogCaptureFixture) -> None:
    backend = mock.Mock(spec=BasePushBackend)
    backend.send.return_value = SendOutcome.delivered()
    writer = FakeWriter(fail_on_record=True)

    with caplog.at_level(logging.ERROR, logger="scheduler.delivery"):
        results = run_stage(backend, writer, prompts(2))

    assert backend.send.call_count == 2
    assert summary_of(results) == (2, 0, 0)
    assert "could not record prompt 1" in caplog.text


def test_it_never_has_more_requests_in_flight_than_the_pool() -> None:
    import threading
    import time

    in_flight = 0
    peak = 0
    lock = threading.Lock()

    def send(message: PushMessage) -> SendOutcome:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.01)
        with lock:
            in_flight -= 1
        return SendOutcome.delivered()

    backend = mock.Mock(spec=BasePushBackend)
    backend.send.side_effect = send
    waves = delivery.dispatch([prompts(20)], backend, FakeWriter(), concurrency=4)
    results = [result for wave in waves for result in wave]

    assert len(results) == 20
    assert peak == 4


def test_it_counts_a_prompt_delivered_when_any_device_accepted() -> None:
    prompt = ClaimedPrompt(1, 2, 3, 4, 0, "T", "B")
    result = delivery.combine(
        prompt,
        [
            ("dead", SendOutcome.permanent("UNREGISTERED", token_invalid=True)),
            ("ok", SendOutcome.delivered()),
        ],
    )
    assert result.status == PromptStatus.DISPATCHED
    assert result.dead_tokens == (("dead", "UNREGISTERED"),)


def test_it_retries_transient_failures_until_attempts_run_out(settings) -> None:
    settings.DISPATCH_MAX_ATTEMPTS = 3
    outcome = [("t", SendOutcome(Delivery.TRANSIENT, "503"))]
    assert (
        delivery.combine(ClaimedPrompt(1, 2, 3, 4, 0, "T", "B"), outcome).status
        == PromptStatus.RETRY
    )
    assert (
        delivery.combine(ClaimedPrompt(1, 2, 3, 4, 1, "T", "B"), outcome).status
        == PromptStatus.RETRY
    )
    assert (
        delivery.combine(ClaimedPrompt(1, 2, 3, 4, 2, "T", "B"), outcome).status
        == PromptStatus.FAILED
    )
