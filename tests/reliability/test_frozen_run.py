"""A run frozen mid-send past its lease: when it wakes, it never undoes another run's doubt."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from scheduler.models import PromptStatus
from tests.loopback import LoopbackServer
from tests.reliability.children import (
    Child,
    run_dispatch_process,
    sends_per_mentor,
)
from tests.reliability.crashing import (
    ANSWERED_BEFORE_CRASH,
    CONCURRENCY,
    answer_at_once,
    hanging_mentors,
    rows_with,
    stall_mid_send,
)
from tests.reliability.seeding import seed_due_prompts

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PROMPTS = 40
LEASE_SECONDS = 3
# The frozen run's requests pass their timeouts while it stands still, so on waking
# it sees them time out: a transient failure it would otherwise record as a retry.
TIMEOUTS = {"PUSH_READ_TIMEOUT_SECONDS": 1, "PUSH_REQUEST_DEADLINE_SECONDS": 2}
# A retry would be due again within a second: a later run would resend it at once.
RETRY_BASE_SECONDS = 1


@contextmanager
def frozen(child: Child) -> Iterator[None]:
    child.freeze()
    try:
        yield
    except BaseException:
        child.kill()  # a frozen process must not outlive a failed test
        raise
    child.thaw()


def test_it_leaves_in_doubt_what_another_run_put_in_doubt_while_it_was_frozen(
    push_service: LoopbackServer, tmp_path: Path
) -> None:
    seeded = seed_due_prompts(PROMPTS)
    env, frozen_run = stall_mid_send(
        push_service,
        tmp_path,
        name="frozen",
        DISPATCH_LEASE_SECONDS=LEASE_SECONDS,
        DISPATCH_RETRY_BASE_SECONDS=RETRY_BASE_SECONDS,
        **TIMEOUTS,
    )
    with frozen(frozen_run):
        in_flight = hanging_mentors(push_service)
        answer_at_once(push_service)  # the frozen run's own requests stay held
        time.sleep(LEASE_SECONDS + 0.5)
        takeover = run_dispatch_process(env, tmp_path, "takeover")
        assert takeover.process.returncode == 0, takeover.stderr
        assert takeover.summary()["in_doubt"] == len(in_flight) == CONCURRENCY
        assert rows_with(status=PromptStatus.FAILED, needs_review=True) == in_flight

    assert frozen_run.wait(timeout=30) == 0, frozen_run.stderr
    # It woke to timed-out requests; their rows stay in doubt and count as nothing.
    assert rows_with(status=PromptStatus.FAILED, needs_review=True) == in_flight
    assert frozen_run.summary()["dispatched"] == ANSWERED_BEFORE_CRASH
    assert frozen_run.summary()["retrying"] == 0
    assert "not recorded" in frozen_run.stderr

    time.sleep(RETRY_BASE_SECONDS + 0.5)  # past any retry the late results could have set
    later = run_dispatch_process(env, tmp_path, "later")
    assert later.process.returncode == 0, later.stderr
    assert later.summary()["dispatched"] == 0
    sends = sends_per_mentor(push_service)
    assert set(sends) == set(seeded.mentor_ids)
    assert set(sends.values()) == {1}, "a prompt reached the push service twice"
    assert rows_with(status=PromptStatus.FAILED, needs_review=True) == in_flight
