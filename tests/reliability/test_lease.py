"""Runs hold a lease: a dead run's claims are taken over once it expires, not after 15 minutes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.conf import settings

from scheduler.models import DispatchRun, PromptHistory, PromptStatus
from tests.lease_triggers import HOLD, REFUSE, renewals_spoiled
from tests.loopback import Answer, LoopbackServer
from tests.reliability.children import (
    SUPABASE_PATH,
    Child,
    child_env,
    released_together,
    run_dispatch_process,
    sends_per_mentor,
    start_dispatch,
)
from tests.reliability.crashing import (
    ANSWERED_BEFORE_CRASH,
    BATCH,
    CONCURRENCY,
    crash_mid_send,
    rows_with,
)
from tests.reliability.seeding import seed_due_prompts

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PROMPTS = 40
LEASE_SECONDS = 3


def crash_with_a_lease(
    push_service: LoopbackServer, folder: Path
) -> tuple[dict[str, str], set[int]]:
    # The stale timeout stays at its default: only the lease can free the claims.
    return crash_mid_send(push_service, folder, DISPATCH_LEASE_SECONDS=LEASE_SECONDS)


def assert_each_mentor_sent_once(push_service: LoopbackServer, mentor_ids: list[int]) -> None:
    sends = sends_per_mentor(push_service)
    assert set(sends) == set(mentor_ids)
    assert set(sends.values()) == {1}, "a prompt was sent twice"


def test_it_sends_a_dead_runs_claims_once_its_lease_expires(
    push_service: LoopbackServer, tmp_path: Path
) -> None:
    seeded = seed_due_prompts(PROMPTS)
    env, in_flight = crash_with_a_lease(push_service, tmp_path)
    claimed_unstarted = rows_with(status=PromptStatus.PENDING, sending_started_at__isnull=True)
    assert len(claimed_unstarted) == BATCH - ANSWERED_BEFORE_CRASH - CONCURRENCY

    time.sleep(LEASE_SECONDS + 0.5)
    later = run_dispatch_process(env, tmp_path, "later")

    assert later.process.returncode == 0, later.stderr
    assert later.summary()["in_doubt"] == len(in_flight) == CONCURRENCY
    assert later.summary()["dispatched"] == PROMPTS - ANSWERED_BEFORE_CRASH - CONCURRENCY
    assert rows_with(status=PromptStatus.FAILED, needs_review=True) == in_flight
    assert_each_mentor_sent_once(push_service, seeded.mentor_ids)


def test_it_sends_a_killed_runs_claims_from_a_run_45_seconds_later_with_the_defaults(
    push_service: LoopbackServer, tmp_path: Path
) -> None:
    # The promise as the design states it, in real time: no setting shortened.
    concurrency, batch = settings.DISPATCH_CONCURRENCY, settings.DISPATCH_BATCH_SIZE
    seeded = seed_due_prompts(batch + 50)
    env, in_flight = crash_mid_send(push_service, tmp_path, concurrency=concurrency, batch=batch)
    killed_at = time.monotonic()
    claimed_unstarted = rows_with(status=PromptStatus.PENDING, sending_started_at__isnull=True)
    assert len(claimed_unstarted) == batch - ANSWERED_BEFORE_CRASH - concurrency

    time.sleep(45 - (time.monotonic() - killed_at))
    later = run_dispatch_process(env, tmp_path, "later")

    assert later.process.returncode == 0, later.stderr
    assert later.summary()["in_doubt"] == len(in_flight) == concurrency
    assert later.summary()["dispatched"] == batch + 50 - ANSWERED_BEFORE_CRASH - concurrency
    assert rows_with(status=PromptStatus.FAILED, needs_review=True) == in_flight
    assert_each_mentor_sent_once(push_service, seeded.mentor_ids)


def test_it_lets_only_one_of_several_recovering_runs_take_each_claim(
    push_service: LoopbackServer, tmp_path: Path
) -> None:
    seeded = seed_due_prompts(PROMPTS)
    env, in_flight = crash_with_a_lease(push_service, tmp_path)

    time.sleep(LEASE_SECONDS + 0.5)
    with released_together(3):
        runs: list[Child] = [start_dispatch(env, tmp_path, f"recover-{i}") for i in range(3)]
    for child in runs:
        assert child.wait() == 0, child.stderr

    summaries = [child.summary() for child in runs]
    assert sum(s["in_doubt"] for s in summaries) == CONCURRENCY
    assert sum(s["dispatched"] for s in summaries) == PROMPTS - ANSWERED_BEFORE_CRASH - CONCURRENCY
    assert rows_with(status=PromptStatus.FAILED, needs_review=True) == in_flight
    assert_each_mentor_sent_once(push_service, seeded.mentor_ids)


@pytest.mark.parametrize("renewal", [REFUSE, HOLD], ids=["refused", "held"])
def test_it_stops_claiming_and_loses_nothing_when_its_lease_cannot_be_renewed(
    push_service: LoopbackServer, tmp_path: Path, renewal: str
) -> None:
    seeded = seed_due_prompts(PROMPTS)
    push_service.always(SUPABASE_PATH, Answer(200, {"ok": True}, delay=0.25))
    env = child_env(
        push_service, DISPATCH_CONCURRENCY=2, DISPATCH_BATCH_SIZE=4, DISPATCH_LEASE_SECONDS=3
    )
    with renewals_spoiled(renewal):
        stopped = run_dispatch_process(env, tmp_path, "stopped")

    assert stopped.process.returncode == 0, stopped.stderr
    sent = stopped.summary()["dispatched"]
    assert 0 < sent < PROMPTS, "the run should stop claiming within its lease"
    assert "lease" in DispatchRun.objects.get().error
    # Every request made is recorded; nothing is left claimed or in doubt.
    assert len(rows_with(status=PromptStatus.DISPATCHED)) == sent == len(push_service.requests)
    assert not PromptHistory.objects.exclude(status=PromptStatus.DISPATCHED).exists()

    rest = run_dispatch_process(env, tmp_path, "rest")
    assert rest.summary()["dispatched"] == PROMPTS - sent
    assert_each_mentor_sent_once(push_service, seeded.mentor_ids)
