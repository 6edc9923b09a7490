"""run_dispatch against the database with the in-memory backend."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
import time_machine
from django.utils import timezone, translation

from scheduler.dispatch.ledger import Ledger
from scheduler.dispatch.pipeline import run_dispatch
from scheduler.dispatch.recovery import flag_sends_of_dead_runs
from scheduler.dispatch.summary import DispatchSummary
from scheduler.due_prompts import DuePrompt
from scheduler.models import DeviceToken, DispatchRun, PromptHistory, PromptStatus, Scenario
from scheduler.push import SendOutcome, locmem
from scheduler.rules import describe
from tests import factories as f

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.get_fixed_timezone(60))
DAY = timedelta(days=1)


def due_setup(n: int = 3):
    s = f.scenario()
    mentors = [f.mentor() for _ in range(n)]
    activities = [f.activity(m, occurred_at=NOW - 3 * DAY) for m in mentors]
    return s, mentors, activities


def test_it_sends_each_due_prompt_and_records_it() -> None:
    s, mentors, activities = due_setup(3)

    with translation.override("en"):
        summary = run_dispatch(now=NOW)
        sentence = describe(s)

    assert summary == DispatchSummary(3, 0, 0)
    assert {m.peer_mentor_id for m in locmem.outbox} == {m.pk for m in mentors}
    rows = PromptHistory.objects.all()
    assert {(r.peer_mentor_id, r.scenario_id, r.activity_id) for r in rows} == {
        (m.pk, s.pk, a.pk) for m, a in zip(mentors, activities, strict=True)
    }
    for row in rows:
        assert row.status == PromptStatus.DISPATCHED
        assert row.dispatched_at is not None and row.attempts == 1
        assert row.due_at == NOW
        assert row.rule_sentence == sentence
        assert (row.title, row.body) == (s.title, s.body)


def test_it_never_sends_a_prompt_twice_across_runs() -> None:
    due_setup(2)
    run_dispatch(now=NOW)
    second = run_dispatch(now=NOW + timedelta(hours=1))
    assert second == DispatchSummary(0, 0, 0)
    assert len(locmem.outbox) == 2


def test_it_stores_the_summary_on_a_dispatch_run() -> None:
    due_setup(2)
    run_dispatch(now=NOW, trigger=DispatchRun.Trigger.SCHEDULE)
    run = DispatchRun.objects.get()
    assert (run.trigger, run.dispatched, run.failed, run.skipped) == ("schedule", 2, 0, 0)
    assert run.finished_at is not None and run.error == ""
    assert set(run.prompts.values_list("status", flat=True)) == {PromptStatus.DISPATCHED}


def test_it_writes_nothing_on_a_dry_run() -> None:
    due_setup(2)
    summary = run_dispatch(dry_run=True, now=NOW)
    assert len(summary.prompts) == 2
    assert PromptHistory.objects.count() == 0
    assert DispatchRun.objects.count() == 0
    assert locmem.outbox == []


def test_it_skips_a_mentor_without_an_active_device() -> None:
    s = f.scenario()
    m = f.mentor(tokens=1)
    DeviceToken.objects.filter(peer_mentor=m).update(is_active=False)
    f.activity(m, occurred_at=NOW - 3 * DAY)

    assert run_dispatch(now=NOW) == DispatchSummary(0, 0, 1)
    row = PromptHistory.objects.get(scenario=s)
    assert (row.status, row.last_error) == (PromptStatus.SKIPPED, "No active device.")
    assert locmem.outbox == []


def test_it_sends_to_every_active_device() -> None:
    f.scenario()
    m = f.mentor(tokens=2)
    f.activity(m, occurred_at=NOW - 3 * DAY)
    run_dispatch(now=NOW)
    assert sorted(msg.device_token for msg in locmem.outbox) == sorted(
        m.device_tokens.values_list("token", flat=True)
    )


def test_it_only_evaluates_the_scenario_asked_for() -> None:
    s, _, _ = due_setup(1)
    other = f.scenario()
    assert run_dispatch(now=NOW, scenario_id=other.pk).dispatched == 1
    assert {msg.scenario_id for msg in locmem.outbox} == {other.pk}
    assert not PromptHistory.objects.filter(scenario=s).exists()


def test_it_retries_a_transient_failure_in_a_later_run(settings) -> None:
    settings.DISPATCH_RETRY_BASE_SECONDS = 60
    f.scenario()
    m = f.mentor()
    f.activity(m, occurred_at=NOW - 3 * DAY)
    token = m.device_tokens.get().token
    locmem.scripted[token] = [SendOutcome.transient("503 Service Unavailable")]

    with time_machine.travel(NOW, tick=False) as clock:
        first = run_dispatch()
        row = PromptHistory.objects.get()
        assert (first.retrying, row.status, row.attempts) == (1, PromptStatus.RETRY, 1)
        assert NOW + timedelta(seconds=30) <= row.next_attempt_at <= NOW + timedelta(seconds=60)

        clock.shift(timedelta(seconds=10))
        assert run_dispatch().dispatched == 0  # not yet
        clock.shift(timedelta(minutes=2))
        assert run_dispatch().dispatched == 1
    row.refresh_from_db()
    assert (row.status, row.attempts, len(locmem.outbox)) == (PromptStatus.DISPATCHED, 2, 2)
    assert PromptHistory.objects.count() == 1


def test_it_fails_a_prompt_once_its_attempts_are_used_up(settings) -> None:
    settings.DISPATCH_MAX_ATTEMPTS = 2
    f.scenario()
    m = f.mentor()
    f.activity(m, occurred_at=NOW - 3 * DAY)
    locmem.scripted[m.device_tokens.get().token] = [SendOutcome.transient("503")] * 5

    with time_machine.travel(NOW, tick=False) as clock:
        run_dispatch()
        clock.shift(timedelta(hours=2))
        summary = run_dispatch()

    row = PromptHistory.objects.get()
    assert (summary.failed, row.status, row.attempts, row.last_error) == (
        1,
        PromptStatus.FAILED,
        2,
        "503",
    )


def test_it_deactivates_a_token_the_service_calls_dead() -> None:
    f.scenario()
    m = f.mentor(tokens=2)
    f.activity(m, occurred_at=NOW - 3 * DAY)
    dead, alive = m.device_tokens.order_by("pk")
    locmem.scripted[dead.token] = [SendOutcome.permanent("UNREGISTERED", token_invalid=True)]

    assert run_dispatch(now=NOW).dispatched == 1
    dead.refresh_from_db()
    alive.refresh_from_db()
    assert (dead.is_active, dead.deactivation_reason) == (False, "UNREGISTERED")
    assert dead.deactivated_at is not None and alive.is_active


def test_it_takes_over_a_claim_a_crashed_run_never_started(settings) -> None:
    settings.DISPATCH_STALE_CLAIM_SECONDS = 600
    s, _, (a,) = due_setup(1)
    dead_run = DispatchRun.objects.create(trigger="command", started_at=NOW)
    f.prompt(s, a, status=PromptStatus.PENDING, run=dead_run, claimed_at=NOW, due_at=NOW)
    assert run_dispatch(now=NOW + timedelta(minutes=5)).dispatched == 0  # may still be alive
    assert run_dispatch(now=NOW + timedelta(minutes=11)).dispatched == 1
    assert len(locmem.outbox) == 1


def test_it_flags_prompts_that_were_in_flight_when_a_run_died(settings) -> None:
    settings.DISPATCH_STALE_CLAIM_SECONDS = 600
    s, _, (a,) = due_setup(1)
    f.prompt(
        s,
        a,
        status=PromptStatus.PENDING,
        claimed_at=NOW,
        sending_started_at=NOW,
        attempts=1,
        due_at=NOW,
    )
    summary = run_dispatch(now=NOW + timedelta(minutes=11))
    row = PromptHistory.objects.get()
    assert (summary.in_doubt, row.status, row.needs_review) == (1, PromptStatus.FAILED, True)
    assert locmem.outbox == []  # at most once: never resent


def test_it_does_not_flag_a_send_that_is_still_fresh(settings) -> None:
    settings.DISPATCH_STALE_CLAIM_SECONDS = 600
    s, _, (a,) = due_setup(1)
    f.prompt(s, a, status=PromptStatus.PENDING, sending_started_at=NOW)
    assert flag_sends_of_dead_runs(NOW + timedelta(minutes=5)) == 0


def test_it_only_sends_rows_it_claimed_itself() -> None:
    s, (m1, m2), (a1, a2) = due_setup(2)
    other_run = DispatchRun.objects.create(trigger="command")
    # Another run inserted this row a moment ago: the claim is theirs.
    f.prompt(s, a1, status=PromptStatus.PENDING, run=other_run, claimed_at=NOW)
    run = DispatchRun.objects.create(trigger="command")
    ledger = Ledger(run, {s.pk: s})
    from scheduler.due_prompts import DuePrompt

    claimed = ledger.claim(
        [DuePrompt(m1.pk, s.pk, a1.pk, NOW), DuePrompt(m2.pk, s.pk, a2.pk, NOW)], NOW
    )
    assert [c.activity_id for c in claimed] == [a2.pk]


class StopAfterFirstSend(locmem.LocmemBackend):
    def __init__(self, stop: threading.Event, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.stop = stop

    def send(self, message):  # type: ignore[no-untyped-def]
        self.stop.set()  # SIGTERM arrives while the first prompt is in flight
        return super().send(message)


def test_it_gives_back_unsent_claims_when_asked_to_stop(settings) -> None:
    settings.DISPATCH_CONCURRENCY = 1
    settings.DISPATCH_BATCH_SIZE = 10
    s, mentors, _ = due_setup(5)
    retry_activity = f.activity(mentors[0], occurred_at=NOW - 3 * DAY)
    f.prompt(
        s, retry_activity, status=PromptStatus.RETRY, attempts=1, due_at=NOW, next_attempt_at=NOW
    )
    stop = threading.Event()

    with time_machine.travel(NOW, tick=False):
        summary = run_dispatch(stop=stop, backend=StopAfterFirstSend(stop))

    assert summary.dispatched == 1 and len(locmem.outbox) == 1
    # New prompts come first on a tie, so the retry was claimed but not sent: it is
    # a retry again, and the never-tried claims are gone (due again).
    retry = PromptHistory.objects.get(activity=retry_activity)
    assert (retry.status, retry.attempts, retry.sending_started_at) == (PromptStatus.RETRY, 1, None)
    assert locmem.outbox[0].prompt_id != retry.pk
    assert sorted(PromptHistory.objects.values_list("status", flat=True)) == [
        PromptStatus.DISPATCHED,
        PromptStatus.RETRY,
    ]
    assert "Stopped early" in DispatchRun.objects.get().error

    with time_machine.travel(NOW, tick=False):
        assert run_dispatch().dispatched == 5
    assert len(locmem.outbox) == 6
    assert len({m.prompt_id for m in locmem.outbox}) == 6


def test_it_skips_and_logs_an_enabled_scenario_without_title_or_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A row saved without validation is held to the same rule as Scenario.clean."""
    s, _, _ = due_setup(2)
    Scenario.objects.filter(pk=s.pk).update(title="  ", body="")

    summary = run_dispatch(now=NOW)

    assert summary.dispatched == 0 and locmem.outbox == []
    assert not PromptHistory.objects.exists()
    assert f"scenario {s.pk} has no title or message" in caplog.text


def test_it_records_a_late_result_over_the_doubt_of_a_takeover() -> None:
    """A slow but live run's delivery is the truth, even after another run flagged it in doubt."""
    s, (m,), (a,) = due_setup(1)
    run = DispatchRun.objects.create(trigger="command")
    ledger = Ledger(run, {s.pk: s})
    [claimed] = ledger.claim([DuePrompt(m.pk, s.pk, a.pk, NOW)], NOW)
    [started] = ledger.mark_sending([claimed], NOW)
    assert (
        flag_sends_of_dead_runs(NOW + timedelta(hours=1)) == 1
    )  # another run thinks this one died

    ledger.write_rows(
        {started.id: {"status": PromptStatus.DISPATCHED, "dispatched_at": NOW}},
        definitive={started.id},
    )

    row = PromptHistory.objects.get()
    assert (row.status, row.needs_review) == (PromptStatus.DISPATCHED, False)


def test_it_records_nothing_on_a_row_another_run_holds_now() -> None:
    s, (m,), (a,) = due_setup(1)
    run = DispatchRun.objects.create(trigger="command")
    ledger = Ledger(run, {s.pk: s})
    [claimed] = ledger.claim([DuePrompt(m.pk, s.pk, a.pk, NOW)], NOW)
    other = DispatchRun.objects.create(trigger="command")
    PromptHistory.objects.filter(pk=claimed.id).update(run=other)

    ledger.write_rows({claimed.id: {"status": PromptStatus.DISPATCHED, "dispatched_at": NOW}})

    assert PromptHistory.objects.get().status == PromptStatus.PENDING


def test_it_carries_the_attempt_number_from_the_mark_before_sending() -> None:
    s, (m,), (a,) = due_setup(1)
    row = f.prompt(s, a, status=PromptStatus.RETRY, attempts=2, due_at=NOW, next_attempt_at=NOW)
    run = DispatchRun.objects.create(trigger="command")
    ledger = Ledger(run, {s.pk: s})
    [claimed] = ledger.claim([DuePrompt(m.pk, s.pk, a.pk, NOW, history_id=row.pk)], NOW)

    [started] = ledger.mark_sending([claimed], NOW)

    assert (claimed.attempt, started.attempt) == (0, 3)
    assert PromptHistory.objects.get().attempts == 3


def test_it_limits_a_run_to_the_given_chapters() -> None:
    everywhere = f.scenario()
    oslo, bergen = f.chapter("Oslo"), f.chapter("Bergen")
    only_bergen = f.scenario(chapter=bergen)
    in_oslo, in_bergen = f.mentor(oslo), f.mentor(bergen)
    for m in (in_oslo, in_bergen):
        f.activity(m, occurred_at=NOW - 3 * DAY)

    summary = run_dispatch(now=NOW, chapter_ids=[oslo.pk])

    assert summary.dispatched == 1
    assert list(PromptHistory.objects.values_list("peer_mentor_id", "scenario_id")) == [
        (in_oslo.pk, everywhere.pk)
    ]
    assert only_bergen.prompts.count() == 0
