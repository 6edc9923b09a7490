"""A `run_dispatch` process killed with SIGKILL while some of its requests hang."""

from __future__ import annotations

import time
from pathlib import Path

from scheduler.models import PromptHistory, PromptStatus
from tests.loopback import Answer, LoopbackServer
from tests.reliability.children import SUPABASE_PATH, child_env, start_dispatch, wait_until

CONCURRENCY = 4
BATCH = 20
ANSWERED_BEFORE_CRASH = 8


def rows_with(**fields: object) -> set[int]:
    return set(PromptHistory.objects.filter(**fields).values_list("peer_mentor_id", flat=True))


def crash_mid_send(
    push_service: LoopbackServer,
    folder: Path,
    *,
    concurrency: int = CONCURRENCY,
    batch: int = BATCH,
    **settings: object,
) -> tuple[dict[str, str], set[int]]:
    """Kill a run while `concurrency` requests hang; returns its env and the mentors in flight.

    The first answers come at once; after them the service hangs, so a fixed set
    of requests is in flight when the process dies. Afterwards it answers at once.
    """
    push_service.script(SUPABASE_PATH, *[Answer(200, {"ok": True})] * ANSWERED_BEFORE_CRASH)
    push_service.always(SUPABASE_PATH, Answer(200, {"ok": True}, delay=60))
    env = child_env(
        push_service, DISPATCH_CONCURRENCY=concurrency, DISPATCH_BATCH_SIZE=batch, **settings
    )
    crashed = start_dispatch(env, folder, "crashed")
    assert push_service.wait_for(ANSWERED_BEFORE_CRASH + concurrency, SUPABASE_PATH, timeout=30)
    assert wait_until(
        lambda: len(rows_with(status=PromptStatus.DISPATCHED)) == ANSWERED_BEFORE_CRASH
    )
    time.sleep(0.3)  # nothing more may start while every worker is stuck
    crashed.kill()
    in_flight = {
        r.json["peer_mentor_id"]
        for r in push_service.requests_to(SUPABASE_PATH)[ANSWERED_BEFORE_CRASH:]
    }
    push_service.always(SUPABASE_PATH, Answer(200, {"ok": True}))
    return env, in_flight
