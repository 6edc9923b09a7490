"""Two django-q2 clusters on one PostgreSQL, as on two machines, for three 1-minute ticks.

- the schedule fires once per tick: one run per tick, each due prompt sent once;
- "run now" goes to the node that is free while the other is busy;
- a node killed with SIGKILL mid-run: the other's next run sends what it had
  claimed but not started; only the requests in flight are in doubt.

About three minutes: django-q2's scheduler looks at the schedule every 30 s
and the shortest interval it has is a minute.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task

from scheduler.dispatch.schedule import SCHEDULE_NAME, TASK
from scheduler.models import DispatchRun, PeerMentor, PromptHistory, PromptStatus, Scenario
from tests import factories
from tests.loopback import Answer, LoopbackServer, RecordedRequest
from tests.reliability.children import wait_until
from tests.reliability.clusters import Node, sender_of, sends_by_mentor, start_node

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CONCURRENCY = 4
LEASE_SECONDS = 30  # the default
TICK = 60.0


@dataclass
class PushService:
    """Answers both nodes; prompts to `slow` mentors take `slow_delay` seconds."""

    server: LoopbackServer
    slow: set[int] = field(default_factory=set)
    slow_delay: float = 0.0

    def answer(self, request: RecordedRequest) -> Answer:
        slow = request.json["peer_mentor_id"] in self.slow
        return Answer(200, {"ok": True}, delay=self.slow_delay if slow else 0.02)


def seed(n: int, scenario: Scenario) -> set[int]:
    """`n` prompts of `scenario` due now, each for a mentor of its own, in a new chapter."""
    mentors = factories.mentors(n, factories.chapter())
    factories.activities(mentors, occurred_at=timezone.now() - timedelta(days=3, minutes=1))
    return {m.pk for m in mentors}


def scheduled_runs() -> list[DispatchRun]:
    return list(DispatchRun.objects.filter(trigger=DispatchRun.Trigger.SCHEDULE).order_by("pk"))


def wait_for_scheduled_runs(count: int, timeout: float) -> list[DispatchRun]:
    """Waits until tick `count` has run to its end; returns every scheduled run."""
    assert wait_until(
        lambda: len(runs := scheduled_runs()) >= count and runs[-1].finished_at is not None,
        timeout=timeout,
        interval=0.5,
    ), f"tick {count} did not run: {scheduled_runs()}"
    return scheduled_runs()


def statuses(mentor_ids: set[int]) -> dict[int, str]:
    rows = PromptHistory.objects.filter(peer_mentor_id__in=mentor_ids)
    return dict(rows.values_list("peer_mentor_id", "status"))


def test_it_runs_each_tick_once_on_two_clusters_and_survives_losing_one(
    push_service: LoopbackServer, tmp_path: Path
) -> None:
    service = PushService(push_service)
    scenario = factories.scenario()
    first_tick = timezone.now() + timedelta(seconds=5)
    Schedule.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "func": TASK,
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
            "next_run": first_tick,
        },
    )
    knobs = {
        "DISPATCH_INTERVAL_MINUTES": 1,
        "DISPATCH_CONCURRENCY": CONCURRENCY,
        "DISPATCH_BATCH_SIZE": 20,
        "DISPATCH_LEASE_SECONDS": LEASE_SECONDS,
    }
    nodes = [start_node(name, push_service, tmp_path, **knobs) for name in ("node-a", "node-b")]
    for node in nodes:
        push_service.always(node.path, service.answer)
    try:
        _run_three_ticks(service, scenario, nodes)
    finally:
        for node in nodes:
            node.end()
    Schedule.objects.filter(name=SCHEDULE_NAME).delete()


def _run_three_ticks(service: PushService, scenario: Scenario, nodes: list[Node]) -> None:
    server = service.server
    everyone: set[int] = set()

    # Tick 1: both nodes up, one run, every prompt once.
    tick_one = seed(30, scenario)
    everyone |= tick_one
    [run_one] = wait_for_scheduled_runs(1, timeout=75)
    assert run_one.dispatched == len(tick_one)
    assert set(statuses(tick_one).values()) == {PromptStatus.DISPATCHED}

    # "Run now" twice: the second goes to the node that is free, not behind the first.
    busy_chapter, free_chapter = seed(40, scenario), seed(10, scenario)
    everyone |= busy_chapter | free_chapter
    service.slow, service.slow_delay = busy_chapter, 1.0
    async_task("scheduler.tasks.admin_dispatch", chapter_ids=chapter_of(busy_chapter))
    assert wait_until(lambda: sender_of(server, nodes, busy_chapter), timeout=20)
    [busy] = sender_of(server, nodes, busy_chapter)
    async_task("scheduler.tasks.admin_dispatch", chapter_ids=chapter_of(free_chapter))
    assert wait_until(
        lambda: set(statuses(free_chapter).values()) == {PromptStatus.DISPATCHED}, timeout=20
    )
    assert sender_of(server, nodes, free_chapter) == {n.name for n in nodes} - {busy}
    assert PromptHistory.objects.filter(
        peer_mentor_id__in=busy_chapter, status=PromptStatus.PENDING
    ).exists(), "the first run should still be sending"
    assert wait_until(
        lambda: set(statuses(busy_chapter).values()) == {PromptStatus.DISPATCHED}, timeout=30
    )

    # Tick 2: killed mid-run, late enough that tick 3 comes soon after its lease ran out.
    lost_chapter = seed(300, scenario)
    everyone |= lost_chapter
    service.slow, service.slow_delay = lost_chapter, 0.4
    assert wait_until(lambda: sender_of(server, nodes, lost_chapter), timeout=TICK + 40)
    [runner] = [n for n in nodes if n.name in sender_of(server, nodes, lost_chapter)]
    [survivor] = [n for n in nodes if n is not runner]
    time.sleep(20)
    assert runner.process.poll() is None
    runner.kill()
    killed_at = time.monotonic()
    service.slow_delay = 0.02
    in_flight_or_started = {
        m for m, status in statuses(lost_chapter).items() if status == PromptStatus.PENDING
    }
    assert in_flight_or_started, "the run was over before it was killed"

    # Tick 3, on the survivor: it takes over the dead run's claims once its lease has expired.
    runs = wait_for_scheduled_runs(3, timeout=TICK + 40)
    done_after = time.monotonic() - killed_at
    assert len(runs) == 3, "one run per tick"
    gaps = [(b.started_at - a.started_at).total_seconds() for a, b in pairwise(runs)]
    assert all(45 <= gap <= 75 for gap in gaps), gaps
    killed_run = runs[1]
    assert killed_run.finished_at is None
    assert killed_run.lease_expires_at is not None
    assert killed_run.lease_expires_at < runs[2].started_at
    assert done_after < 60, f"the work was finished {done_after:.0f} s after the kill"

    sends = sends_by_mentor(server, nodes)
    assert max(sends.values()) == 1, "a prompt was sent twice"
    final = statuses(everyone)
    in_doubt = set(
        PromptHistory.objects.filter(needs_review=True).values_list("peer_mentor_id", flat=True)
    )
    assert len(in_doubt) <= CONCURRENCY  # only what was in flight
    assert in_doubt <= lost_chapter
    assert {m for m, s in final.items() if s == PromptStatus.DISPATCHED} == everyone - in_doubt
    assert set(sends) >= everyone - in_doubt
    assert survivor.process.poll() is None


def chapter_of(mentor_ids: set[int]) -> list[int]:
    return sorted(
        set(PeerMentor.objects.filter(pk__in=mentor_ids).values_list("chapter_id", flat=True))
    )


def test_it_runs_a_sharded_tick_as_one_group_spread_over_both_clusters(
    push_service: LoopbackServer, tmp_path: Path
) -> None:
    scenario = factories.scenario()
    Schedule.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "func": TASK,
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
            "next_run": timezone.now() + timedelta(seconds=5),
        },
    )
    mentors = seed(200, scenario)
    service = PushService(push_service, slow=mentors, slow_delay=0.2)
    knobs = {"DISPATCH_SHARDS": 2, "DISPATCH_CONCURRENCY": CONCURRENCY, "DISPATCH_BATCH_SIZE": 20}
    nodes = [start_node(name, push_service, tmp_path, **knobs) for name in ("node-a", "node-b")]
    for node in nodes:
        push_service.always(node.path, service.answer)
    try:
        assert wait_until(
            lambda: len(runs := scheduled_runs()) == 2 and all(r.finished_at for r in runs),
            timeout=75,
            interval=0.5,
        ), scheduled_runs()
    finally:
        for node in nodes:
            node.end()
    Schedule.objects.filter(name=SCHEDULE_NAME).delete()

    runs = scheduled_runs()
    assert sorted((r.shard_index, r.shard_count) for r in runs) == [(0, 2), (1, 2)]
    assert runs[0].tick is not None and runs[0].tick == runs[1].tick  # one group
    sends = sends_by_mentor(push_service, nodes)
    assert set(sends) == mentors and max(sends.values()) == 1
    # Each shard ran on a node of its own: every node sent one shard's mentors only.
    senders = [sender_of(push_service, nodes, {m for m in mentors if m % 2 == i}) for i in (0, 1)]
    assert all(len(s) == 1 for s in senders), senders
    assert senders[0] != senders[1]
