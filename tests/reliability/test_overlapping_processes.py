"""Four `run_dispatch` processes started together over thousands of due prompts."""

from __future__ import annotations

from pathlib import Path

import pytest

from scheduler.models import PromptHistory, PromptStatus
from tests.loopback import Answer, LoopbackServer
from tests.reliability.children import SUPABASE_PATH, child_env, sends_per_mentor, start_dispatch
from tests.reliability.seeding import seed_due_prompts

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PROMPTS = 2000
RUNS = 4


def test_it_sends_every_prompt_exactly_once_across_four_processes(
    push_service: LoopbackServer, tmp_path: Path
) -> None:
    seeded = seed_due_prompts(PROMPTS)
    # Slow enough that every process is still sending when the last one starts.
    push_service.always(SUPABASE_PATH, Answer(200, {"ok": True}, delay=0.04))
    env = child_env(push_service, DISPATCH_CONCURRENCY=8, DISPATCH_BATCH_SIZE=100)

    children = [start_dispatch(env, tmp_path, f"run-{i}") for i in range(RUNS)]
    for child in children:
        assert child.wait(timeout=120) == 0, child.stderr

    summaries = [child.summary() for child in children]
    sends = sends_per_mentor(push_service)
    assert len(push_service.requests_to(SUPABASE_PATH)) == PROMPTS
    assert set(sends) == set(seeded.mentor_ids)
    assert max(sends.values()) == 1
    assert sum(s["dispatched"] for s in summaries) == PROMPTS
    assert sum(1 for s in summaries if s["dispatched"]) >= 2, "the runs did not overlap"
    assert PromptHistory.objects.filter(status=PromptStatus.DISPATCHED).count() == PROMPTS
    assert PromptHistory.objects.count() == PROMPTS
