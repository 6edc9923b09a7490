"""DISPATCH_SHARDS=2 as two clusters run it: `run_dispatch --shard 0/2` and `1/2` in processes
of their own over 10k prompts against the 50 ms loopback service. The throughput of the two
together beside one process's is `make bench`'s figure, not timed here."""

from __future__ import annotations

from pathlib import Path

import pytest

from scheduler.models import DispatchRun, PromptHistory, PromptStatus
from tests.loopback import Answer, LoopbackServer
from tests.reliability.children import SUPABASE_PATH, child_env, sends_per_mentor, start_dispatch
from tests.reliability.seeding import seed_due_prompts

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PROMPTS = 10_000
SHARDS = 2


def test_it_sends_every_prompt_once_with_two_shard_processes(
    push_service: LoopbackServer, tmp_path: Path
) -> None:
    seeded = seed_due_prompts(PROMPTS)
    push_service.always(SUPABASE_PATH, Answer(200, {"ok": True}, delay=0.05))
    env = child_env(push_service, DISPATCH_CONCURRENCY=64, DISPATCH_RUN_DEADLINE_SECONDS=600)

    children = [
        start_dispatch(env, tmp_path, f"shard-{i}", "--shard", f"{i}/{SHARDS}")
        for i in range(SHARDS)
    ]
    for child in children:
        assert child.wait(timeout=300) == 0, child.stderr

    sends = sends_per_mentor(push_service)
    assert len(push_service.requests_to(SUPABASE_PATH)) == PROMPTS
    assert set(sends) == set(seeded.mentor_ids)
    assert max(sends.values()) == 1
    runs = {run.pk: run for run in DispatchRun.objects.all()}
    assert sorted((r.shard_index, r.shard_count) for r in runs.values()) == [(0, 2), (1, 2)]
    # Each shard sent exactly its own mentors, and the two overlapped in time.
    for run_id, mentor_id in PromptHistory.objects.values_list("run_id", "peer_mentor_id"):
        assert mentor_id % SHARDS == runs[run_id].shard_index
    assert [child.summary()["dispatched"] for child in children] == [
        sum(1 for m in seeded.mentor_ids if m % SHARDS == i) for i in range(SHARDS)
    ]
    first, second = sorted(runs.values(), key=lambda r: r.started_at)
    assert first.finished_at is not None and second.started_at < first.finished_at
    assert PromptHistory.objects.filter(status=PromptStatus.DISPATCHED).count() == PROMPTS
