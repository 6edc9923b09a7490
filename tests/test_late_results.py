"""A result that lands after another run put its prompt in doubt: only a definitive one counts.

Another run takes a slow run for dead and flags its prompts in flight as in
doubt. When the slow run's answers land after all, delivered or refused for
good replaces the doubt; a timeout, a transient error or a misconfiguration
leaves it, since a retry might send the prompt twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from scheduler.dispatch.conf import DispatchConf
from scheduler.dispatch.ledger import Ledger, checked_changes
from scheduler.dispatch.pipeline import run_dispatch
from scheduler.dispatch.recovery import IN_DOUBT_ERROR, flag_sends_of_dead_runs
from scheduler.dispatch.sending import combine
from scheduler.due_prompts import DuePrompt
from scheduler.models import DispatchRun, PromptHistory, PromptStatus
from scheduler.push import BasePushBackend, PushMessage, SendOutcome
from tests import factories as f

# The takeover happens on another connection while the request is in flight.
pytestmark = pytest.mark.django_db(transaction=True)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.get_fixed_timezone(60))
AN_HOUR_LATER = timedelta(hours=1)  # long past any lease or stale cutoff

DELIVERED = SendOutcome.delivered()
REFUSED = SendOutcome.permanent("Supabase: HTTP 404 (no such device)", token_invalid=True)
TIMED_OUT = SendOutcome.transient("Supabase: timed out (ReadTimeoutError).")
BUSY = SendOutcome.transient("Supabase: HTTP 503", retry_after=30)
MISCONFIGURED = SendOutcome.misconfigured("Supabase: HTTP 401 (key refused)")


class TakenForDeadWhileSending(BasePushBackend):
    """Another run takes this one for dead while each request is in flight, then it answers."""

    def __init__(self, answer: SendOutcome, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.answer = answer
        self.calls = 0

    def send(self, message: PushMessage) -> SendOutcome:
        self.calls += 1
        try:
            assert flag_sends_of_dead_runs(timezone.now() + AN_HOUR_LATER) == 1
        finally:
            connection.close()  # this pool thread's own connection
        return self.answer


def one_due_prompt() -> None:
    f.activity(f.mentor(), occurred_at=timezone.now() - timedelta(days=3))
    f.scenario()


def the_row() -> PromptHistory:
    return PromptHistory.objects.get()


@pytest.mark.parametrize(
    ("answer", "status"),
    [(DELIVERED, PromptStatus.DISPATCHED), (REFUSED, PromptStatus.FAILED)],
    ids=["delivered", "refused"],
)
def test_it_replaces_the_doubt_with_a_definitive_late_result(
    answer: SendOutcome, status: str
) -> None:
    one_due_prompt()

    summary = run_dispatch(backend=TakenForDeadWhileSending(answer))

    row = the_row()
    assert (row.status, row.needs_review, row.last_error) == (status, False, answer.error)
    assert (row.dispatched_at is not None) == (status == PromptStatus.DISPATCHED)
    assert (summary.dispatched, summary.failed) == (
        int(status == PromptStatus.DISPATCHED),
        int(status == PromptStatus.FAILED),
    )


@pytest.mark.parametrize(
    "answer", [TIMED_OUT, BUSY, MISCONFIGURED], ids=["timed-out", "transient", "misconfigured"]
)
def test_it_leaves_the_doubt_when_the_late_result_says_nothing_for_sure(
    answer: SendOutcome,
) -> None:
    one_due_prompt()
    backend = TakenForDeadWhileSending(answer)

    summary = run_dispatch(backend=backend)

    row = the_row()
    assert (row.status, row.needs_review, row.last_error) == (
        PromptStatus.FAILED,
        True,
        IN_DOUBT_ERROR,
    )
    assert (row.next_attempt_at, row.attempts) == (None, 1)
    assert (summary.dispatched, summary.failed, summary.retrying) == (0, 0, 0)
    # Long after any retry would have been due, nothing is sent again.
    run_dispatch(now=timezone.now() + AN_HOUR_LATER, backend=backend)
    assert backend.calls == 1


def test_it_leaves_the_doubt_when_the_last_attempt_timed_out(settings) -> None:  # type: ignore[no-untyped-def]
    settings.DISPATCH_MAX_ATTEMPTS = 1  # out of attempts: failed, yet it may have arrived
    one_due_prompt()

    run_dispatch(backend=TakenForDeadWhileSending(TIMED_OUT))

    row = the_row()
    assert (row.status, row.needs_review, row.last_error) == (
        PromptStatus.FAILED,
        True,
        IN_DOUBT_ERROR,
    )


def test_it_decides_a_wave_of_late_results_in_one_statement(
    django_assert_num_queries: Callable[..., object],
) -> None:
    s = f.scenario()
    due = []
    for _ in range(4):
        m = f.mentor()
        a = f.activity(m, occurred_at=NOW - timedelta(days=3))
        due.append(DuePrompt(m.pk, s.pk, a.pk, NOW))
    ledger = Ledger(DispatchRun.objects.create(trigger="command"), {s.pk: s})
    wave = ledger.mark_sending(ledger.claim(due, NOW), NOW)
    assert flag_sends_of_dead_runs(NOW + AN_HOUR_LATER) == 4
    max_attempts = DispatchConf.from_settings().max_attempts
    results = [
        checked_changes(combine(prompt, [("device-token", answer)], max_attempts))
        for prompt, answer in zip(wave, [DELIVERED, REFUSED, TIMED_OUT, BUSY], strict=True)
    ]
    delivered, refused, timed_out, busy = (p.id for p in wave)

    with django_assert_num_queries(1):  # type: ignore[attr-defined]
        left_out = ledger.write_rows(
            {r.prompt.id: changes for r, changes in results},
            definitive={r.prompt.id for r, _ in results if r.definitive},
        )

    assert left_out == {timed_out, busy}
    rows = {r.pk: (r.status, r.needs_review) for r in PromptHistory.objects.all()}
    assert rows == {
        delivered: (PromptStatus.DISPATCHED, False),
        refused: (PromptStatus.FAILED, False),
        timed_out: (PromptStatus.FAILED, True),
        busy: (PromptStatus.FAILED, True),
    }


def test_it_still_records_a_retry_on_a_row_nobody_put_in_doubt() -> None:
    one_due_prompt()

    summary = run_dispatch(backend=Answering(TIMED_OUT))

    row = the_row()
    assert (row.status, row.needs_review, row.last_error) == (
        PromptStatus.RETRY,
        False,
        TIMED_OUT.error,
    )
    assert row.next_attempt_at is not None and summary.retrying == 1


class Answering(BasePushBackend):
    def __init__(self, answer: SendOutcome, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.answer = answer

    def send(self, message: PushMessage) -> SendOutcome:
        return self.answer
