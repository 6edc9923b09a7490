"""SIGTERM mid-run: stop claiming, finish what is in flight, give back the rest, exit 0."""

from __future__ import annotations

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
)
from tests.reliability.seeding import seed_due_prompts

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PROMPTS = 30
CONCURRENCY = 2


def test_it_stops_cleanly_on_sigterm_and_the_next_run_sends_the_rest(
    push_service: LoopbackServer, tmp_path: Path
) -> None:
    seeded = seed_due_prompts(PROMPTS)
    push_service.always(SUPABASE_PATH, Answer(200, {"ok": True}, delay=0.4))
    env = child_env(push_service, DISPATCH_CONCURRENCY=CONCURRENCY, DISPATCH_BATCH_SIZE=10)

    stopped = start_dispatch(env, tmp_path, "stopped")
    assert push_service.wait_for(3, SUPABASE_PATH, timeout=30)
    stopped.terminate()

    assert stopped.wait(timeout=30) == 0, stopped.stderr
    sent_before_stop = sends_per_mentor(push_service)
    summary = stopped.summary()
    assert summary["dispatched"] == len(sent_before_stop) < PROMPTS
    run = DispatchRun.objects.get()
    assert run.finished_at is not None
    assert "Stopped early" in run.error
    # Nothing is left claimed: what was in flight finished, the rest was given back.
    assert not PromptHistory.objects.filter(status=PromptStatus.PENDING).exists()
    assert PromptHistory.objects.count() == len(sent_before_stop)

    push_service.always(SUPABASE_PATH, Answer(200, {"ok": True}))
    next_run = run_dispatch_process(env, tmp_path, "next")

    assert next_run.process.returncode == 0, next_run.stderr
    assert next_run.summary()["dispatched"] == PROMPTS - len(sent_before_stop)
    sends = sends_per_mentor(push_service)
    assert set(sends) == set(seeded.mentor_ids)
    assert set(sends.values()) == {1}
    assert PromptHistory.objects.filter(status=PromptStatus.DISPATCHED).count() == PROMPTS
