"""A run killed with SIGKILL mid-send: nothing is sent twice, only what was in flight is in doubt."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from scheduler.models import DispatchRun, PromptHistory, PromptStatus
from tests.loopback import Answer, LoopbackServer
from tests.reliability.children import (
    SUPABASE_PATH,
    child_env,
    run_dispatch_process,
    sends_per_mentor,
    start_dispatch,
    wait_until,
)
from tests.reliability.seeding import seed_due_prompts

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PROMPTS = 40
CONCURRENCY = 4
BATCH = 20
ANSWERED_BEFORE_CRASH = 8
STALE_SECONDS = 5


def rows_with(**fields: object) -> set[int]:
    return set(PromptHistory.objects.filter(**fields).values_list("peer_mentor_id", flat=True))


def test_it_sends_nothing_twice_and_flags_only_the_prompts_in_flight_after_a_crash(
    push_service: LoopbackServer, tmp_path: Path
) -> None:
    seeded = seed_due_prompts(PROMPTS)
    # The first answers come at once; after them the service hangs, so a fixed set
    # of requests is in flight when the process dies.
    push_service.script(SUPABASE_PATH, *[Answer(200, {"ok": True})] * ANSWERED_BEFORE_CRASH)
    push_service.always(SUPABASE_PATH, Answer(200, {"ok": True}, delay=60))
    env = child_env(
        push_service,
        DISPATCH_CONCURRENCY=CONCURRENCY,
        DISPATCH_BATCH_SIZE=BATCH,
        DISPATCH_STALE_CLAIM_SECONDS=STALE_SECONDS,
    )

    crashed = start_dispatch(env, tmp_path, "crashed")
    in_flight_count = ANSWERED_BEFORE_CRASH + CONCURRENCY
    assert push_service.wait_for(in_flight_count, SUPABASE_PATH, timeout=30)
    assert wait_until(lambda: len(rows_with(status=PromptStatus.DISPATCHED)) == 8)
    time.sleep(0.3)  # nothing more may start while every worker is stuck
    crashed.kill()

    requests = push_service.requests_to(SUPABASE_PATH)
    assert len(requests) == in_flight_count
    in_flight = {r.json["peer_mentor_id"] for r in requests[ANSWERED_BEFORE_CRASH:]}
    assert rows_with(status=PromptStatus.PENDING, sending_started_at__isnull=False) == in_flight
    claimed_unstarted = rows_with(status=PromptStatus.PENDING, sending_started_at__isnull=True)
    assert len(claimed_unstarted) == BATCH - in_flight_count

    # A run before the stale timeout leaves the dead run's claims alone: it may still be alive.
    push_service.always(SUPABASE_PATH, Answer(200, {"ok": True}))
    early = run_dispatch_process(env, tmp_path, "early")
    assert early.process.returncode == 0, early.stderr
    assert early.summary()["in_doubt"] == 0
    assert early.summary()["dispatched"] == PROMPTS - BATCH
    assert rows_with(status=PromptStatus.PENDING, sending_started_at__isnull=True) == (
        claimed_unstarted
    )

    time.sleep(STALE_SECONDS + 0.5)
    later = run_dispatch_process(env, tmp_path, "later")

    assert later.process.returncode == 0, later.stderr
    assert later.summary()["in_doubt"] == len(in_flight) == CONCURRENCY
    assert later.summary()["dispatched"] == len(claimed_unstarted)
    sends = sends_per_mentor(push_service)
    assert set(sends) == set(seeded.mentor_ids)
    assert set(sends.values()) == {1}, "a prompt was sent twice"
    assert rows_with(status=PromptStatus.FAILED, needs_review=True) == in_flight
    for row in PromptHistory.objects.filter(needs_review=True):
        assert "delivery unknown" in row.last_error
    assert rows_with(status=PromptStatus.DISPATCHED) == set(seeded.mentor_ids) - in_flight
    assert DispatchRun.objects.filter(in_doubt=CONCURRENCY).count() == 1
