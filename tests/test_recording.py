"""The ledger's per-wave writes: one statement per wave, each row its own values."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from django.db import DataError, transaction
from django.utils import timezone

from scheduler.dispatch.ledger import ClaimedPrompt, Ledger
from scheduler.due_prompts import DuePrompt
from scheduler.models import DispatchRun, PromptHistory, PromptStatus
from tests import factories as f

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.get_fixed_timezone(60))
SECOND = timedelta(seconds=1)


def claimed_wave(n: int) -> tuple[Ledger, list[ClaimedPrompt]]:
    s = f.scenario()
    due = []
    for _ in range(n):
        m = f.mentor()
        a = f.activity(m, occurred_at=NOW - timedelta(days=3))
        due.append(DuePrompt(m.pk, s.pk, a.pk, NOW))
    ledger = Ledger(DispatchRun.objects.create(trigger="command"), {s.pk: s})
    return ledger, ledger.claim(due, NOW)


def test_it_records_a_wave_of_mixed_outcomes_in_one_statement(
    django_assert_num_queries: Callable[..., object],
) -> None:
    ledger, claimed = claimed_wave(4)
    sent_a, sent_b, retry, failed = ledger.mark_sending(claimed, NOW)

    with django_assert_num_queries(1):  # type: ignore[attr-defined]
        ledger.write_rows(
            {
                sent_a.id: {"status": PromptStatus.DISPATCHED, "dispatched_at": NOW + SECOND},
                sent_b.id: {"status": PromptStatus.DISPATCHED, "dispatched_at": NOW + 2 * SECOND},
                retry.id: {
                    "status": PromptStatus.RETRY,
                    "last_error": "busy",
                    "next_attempt_at": NOW + timedelta(minutes=5),
                    "attempts": 0,
                },
                failed.id: {"status": PromptStatus.FAILED, "last_error": "rejected"},
            }
        )

    rows = {r.pk: r for r in PromptHistory.objects.all()}
    assert (rows[sent_a.id].status, rows[sent_a.id].dispatched_at) == (
        PromptStatus.DISPATCHED,
        NOW + SECOND,
    )
    assert rows[sent_b.id].dispatched_at == NOW + 2 * SECOND
    assert (rows[retry.id].status, rows[retry.id].last_error, rows[retry.id].attempts) == (
        PromptStatus.RETRY,
        "busy",
        0,
    )
    assert rows[retry.id].next_attempt_at == NOW + timedelta(minutes=5)
    assert rows[retry.id].dispatched_at is None
    assert (rows[failed.id].status, rows[failed.id].last_error) == (
        PromptStatus.FAILED,
        "rejected",
    )
    # A column a row's outcome does not name keeps the row's own value.
    assert rows[failed.id].attempts == 1 and rows[failed.id].next_attempt_at is None
    assert rows[sent_a.id].last_error == "" and rows[sent_a.id].attempts == 1


def test_it_leaves_out_of_a_wave_a_row_another_run_holds_now() -> None:
    ledger, claimed = claimed_wave(3)
    started = ledger.mark_sending(claimed, NOW)
    other = DispatchRun.objects.create(trigger="command")
    PromptHistory.objects.filter(pk=started[0].id).update(run=other)

    ledger.write_rows(
        {p.id: {"status": PromptStatus.DISPATCHED, "dispatched_at": NOW} for p in started}
    )

    statuses = dict(PromptHistory.objects.values_list("pk", "status"))
    assert statuses == {
        started[0].id: PromptStatus.PENDING,
        started[1].id: PromptStatus.DISPATCHED,
        started[2].id: PromptStatus.DISPATCHED,
    }


def test_it_marks_a_wave_sending_in_one_statement(
    django_assert_num_queries: Callable[..., object],
) -> None:
    ledger, claimed = claimed_wave(3)

    with django_assert_num_queries(1):  # type: ignore[attr-defined]
        started = ledger.mark_sending(claimed, NOW)

    assert [p.id for p in started] == [p.id for p in claimed]
    assert [p.attempt for p in started] == [1, 1, 1]


def test_it_marks_only_the_rows_it_still_holds() -> None:
    ledger, claimed = claimed_wave(3)
    taken, already_started, free = claimed
    PromptHistory.objects.filter(pk=taken.id).update(run=DispatchRun.objects.create())
    PromptHistory.objects.filter(pk=already_started.id).update(sending_started_at=NOW)
    PromptHistory.objects.filter(pk=free.id).update(attempts=2)

    started = ledger.mark_sending(claimed, NOW + SECOND)

    assert [(p.id, p.attempt) for p in started] == [(free.id, 3)]
    row = PromptHistory.objects.get(pk=free.id)
    assert (row.sending_started_at, row.attempts) == (NOW + SECOND, 3)
    assert PromptHistory.objects.get(pk=taken.id).attempts == 0


def test_it_claims_in_due_order_and_leaves_a_row_another_run_inserted_first() -> None:
    s = f.scenario()
    mentors = [f.mentor() for _ in range(3)]
    due = [
        DuePrompt(
            m.pk, s.pk, f.activity(m, occurred_at=NOW - timedelta(days=3)).pk, NOW + i * SECOND
        )
        for i, m in enumerate(mentors)
    ]
    other = Ledger(DispatchRun.objects.create(trigger="command"), {s.pk: s})
    [first_elsewhere] = other.claim(due[1:2], NOW)
    ledger = Ledger(DispatchRun.objects.create(trigger="command"), {s.pk: s})

    claimed = ledger.claim(list(reversed(due)), NOW)

    assert [c.activity_id for c in claimed] == [due[2].activity_id, due[0].activity_id]
    assert {c.title for c in claimed} == {s.title}
    assert PromptHistory.objects.get(pk=first_elsewhere.id).run == other.run


def test_it_writes_a_column_only_on_the_rows_that_name_it() -> None:
    ledger, claimed = claimed_wave(3)
    started = ledger.mark_sending(claimed, NOW)
    PromptHistory.objects.update(next_attempt_at=NOW)
    moved, kept, also_kept = started
    later = NOW + timedelta(minutes=5)

    ledger.write_rows(
        {
            moved.id: {"status": PromptStatus.RETRY, "next_attempt_at": later, "last_error": "a"},
            kept.id: {"status": PromptStatus.FAILED, "last_error": "b"},
            also_kept.id: {"status": PromptStatus.FAILED, "next_attempt_at": None},
        }
    )

    rows = dict(PromptHistory.objects.values_list("pk", "next_attempt_at"))
    assert rows == {moved.id: later, kept.id: NOW, also_kept.id: NOW}
    errors = dict(PromptHistory.objects.values_list("pk", "last_error"))
    assert errors == {moved.id: "a", kept.id: "b", also_kept.id: ""}


@pytest.mark.postgres
def test_it_refuses_a_value_too_long_for_its_column_instead_of_cutting_it() -> None:
    s = f.scenario()
    m = f.mentor()
    a = f.activity(m, occurred_at=NOW - timedelta(days=3))
    ledger = Ledger(DispatchRun.objects.create(trigger="command"), {s.pk: s})
    ledger._texts[s.pk]["title"] = "x" * 100  # the column holds 65

    with pytest.raises(DataError), transaction.atomic():
        ledger.claim([DuePrompt(m.pk, s.pk, a.pk, NOW)], NOW)

    assert not PromptHistory.objects.exists()
