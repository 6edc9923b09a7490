"""A run killed with SIGKILL mid-send: nothing is sent twice, only what was in flight is in doubt."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from scheduler.models import DispatchRun, PromptHistory, PromptStatus
from tests.loopback import LoopbackServer
from tests.reliability.children import (
    SUPABASE_PATH,
    run_dispatch_process,
    sends_per_mentor,
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
STALE_SECONDS = 5


def test_it_sends_nothing_twice_and_flags_only_the_prompts_in_flight_after_a_crash(
    push_service: LoopbackServer, tmp_path: Path
) -> None:
    seeded = seed_due_prompts(PROMPTS)
    env, in_flight = crash_mid_send(
        push_service, tmp_path, DISPATCH_STALE_CLAIM_SECONDS=STALE_SECONDS
    )

    in_flight_count = ANSWERED_BEFORE_CRASH + CONCURRENCY
    assert len(push_service.requests_to(SUPABASE_PATH)) == in_flight_count
    assert rows_with(status=PromptStatus.PENDING, sending_started_at__isnull=False) == in_flight
    claimed_unstarted = rows_with(status=PromptStatus.PENDING, sending_started_at__isnull=True)
    assert len(claimed_unstarted) == BATCH - in_flight_count

    # A run before the stale timeout leaves the dead run's claims alone: it may still be alive.
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
