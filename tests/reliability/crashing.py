"""A `run_dispatch` process stopped (SIGKILL, or frozen with SIGSTOP) while some of its requests hang."""

from __future__ import annotations

import time
from pathlib import Path

from scheduler.models import PromptHistory, PromptStatus
from tests.loopback import Answer, LoopbackServer
from tests.reliability.children import (
    SUPABASE_PATH,
    Child,
    child_env,
    start_dispatch,
    wait_until,
)

CONCURRENCY = 4
BATCH = 20
ANSWERED_BEFORE_CRASH = 8


def rows_with(**fields: object) -> set[int]:
    return set(PromptHistory.objects.filter(**fields).values_list("peer_mentor_id", flat=True))


def stall_mid_send(
    push_service: LoopbackServer,
    folder: Path,
    *,
    concurrency: int = CONCURRENCY,
    batch: int = BATCH,
    name: str = "crashed",
    **settings: object,
) -> tuple[dict[str, str], Child]:
    """Start a run and wait until `concurrency` of its requests hang; returns its env and process.

    The first answers come at once; after them the service hangs (for a
    minute), so a fixed set of requests is in flight. Call `answer_at_once`
    once the run is stopped, so later runs get answers.
    """
    push_service.script(SUPABASE_PATH, *[Answer(200, {"ok": True})] * ANSWERED_BEFORE_CRASH)
    push_service.always(SUPABASE_PATH, Answer(200, {"ok": True}, delay=60))
    env = child_env(
        push_service, DISPATCH_CONCURRENCY=concurrency, DISPATCH_BATCH_SIZE=batch, **settings
    )
    child = start_dispatch(env, folder, name)
    assert push_service.wait_for(ANSWERED_BEFORE_CRASH + concurrency, SUPABASE_PATH, timeout=30)
    assert wait_until(
        lambda: len(rows_with(status=PromptStatus.DISPATCHED)) == ANSWERED_BEFORE_CRASH
    )
    time.sleep(0.3)  # nothing more may start while every worker is stuck
    return env, child


def hanging_mentors(push_service: LoopbackServer) -> set[int]:
    """The mentors whose request the service is holding (after the answered ones)."""
    return {
        r.json["peer_mentor_id"]
        for r in push_service.requests_to(SUPABASE_PATH)[ANSWERED_BEFORE_CRASH:]
    }


def answer_at_once(push_service: LoopbackServer) -> None:
    """From now on the service answers at once; requests already held stay held."""
    push_service.always(SUPABASE_PATH, Answer(200, {"ok": True}))


def crash_mid_send(
    push_service: LoopbackServer,
    folder: Path,
    *,
    concurrency: int = CONCURRENCY,
    batch: int = BATCH,
    **settings: object,
) -> tuple[dict[str, str], set[int]]:
    """Kill a run while `concurrency` requests hang; returns its env and the mentors in flight."""
    env, crashed = stall_mid_send(
        push_service, folder, concurrency=concurrency, batch=batch, **settings
    )
    crashed.kill()
    in_flight = hanging_mentors(push_service)
    answer_at_once(push_service)
    return env, in_flight
