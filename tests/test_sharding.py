"""Sharding: a run of shard i/K takes only the mentors with id % K = i, and every guarantee holds."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from scheduler.checks import check_dispatch_settings
from scheduler.dispatch.pipeline import run_dispatch
from scheduler.dispatch.shard import Shard
from scheduler.models import DispatchRun, PeerMentor, PromptHistory, PromptStatus
from scheduler.push import locmem
from scheduler.tasks import SHARD_TASK, scheduled_dispatch, shard_dispatch
from tests import factories as f

pytestmark = pytest.mark.django_db

DUE = timedelta(days=3, minutes=1)


def due_mentors(n: int, prompts_each: int = 1) -> list[PeerMentor]:
    f.scenario()
    mentors = f.mentors(n)
    f.activities(
        [m for m in mentors for _ in range(prompts_each)], occurred_at=timezone.now() - DUE
    )
    return mentors


def sent_to() -> list[int]:
    return [m.peer_mentor_id for m in locmem.outbox]


def run(*args: str) -> str:
    out = StringIO()
    with translation.override("en"):
        call_command("run_dispatch", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_it_sends_only_the_mentors_of_its_shard_and_records_the_shard() -> None:
    mentors = due_mentors(9)

    summary = run_dispatch(shard=Shard(1, 3))

    ours = {m.pk for m in mentors if m.pk % 3 == 1}
    assert sorted(sent_to()) == sorted(ours)
    assert summary.dispatched == len(ours)
    run_row = DispatchRun.objects.get()
    assert (run_row.shard_index, run_row.shard_count) == (1, 3)
    assert set(PromptHistory.objects.values_list("peer_mentor_id", flat=True)) == ours


def test_it_sends_every_prompt_once_over_all_shards() -> None:
    mentors = due_mentors(10, prompts_each=2)

    for index in range(3):
        run_dispatch(shard=Shard(index, 3))
    run_dispatch()  # an unsharded run afterwards finds nothing left

    assert sorted(sent_to()) == sorted(m.pk for m in mentors for _ in range(2))
    assert DispatchRun.objects.filter(dispatched__gt=0).count() == 3


def test_it_keeps_the_daily_cap_of_a_mentor_within_the_shard(settings: Any) -> None:
    settings.MAX_PROMPTS_PER_MENTOR_PER_DAY = 1
    mentors = due_mentors(4, prompts_each=3)

    for index in range(2):
        summary = run_dispatch(shard=Shard(index, 2))
        assert summary.deferred == {"daily_cap": 4}  # two mentors, two held each

    assert sorted(sent_to()) == sorted(m.pk for m in mentors)


def test_it_leaves_the_abandoned_claims_of_other_shards_alone() -> None:
    mentors = due_mentors(4)
    dead = DispatchRun.objects.create(
        trigger=DispatchRun.Trigger.COMMAND,
        started_at=timezone.now() - timedelta(minutes=5),
        lease_expires_at=timezone.now() - timedelta(minutes=1),
    )
    for activity in f.Activity.objects.all():
        f.prompt(
            f.Scenario.objects.get(),
            activity,
            status=PromptStatus.PENDING,
            run=dead,
            claimed_at=dead.started_at,
        )

    run_dispatch(shard=Shard(0, 2))

    even = {m.pk for m in mentors if m.pk % 2 == 0}
    assert sorted(sent_to()) == sorted(even)
    pending = PromptHistory.objects.filter(status=PromptStatus.PENDING, run=dead)
    assert set(pending.values_list("peer_mentor_id", flat=True)) == {m.pk for m in mentors} - even


def test_it_lists_only_its_shard_on_a_dry_run() -> None:
    mentors = due_mentors(6)

    data = json.loads(run("--dry-run", "--json", "--shard", "0/2"))

    assert {p["peer_mentor_id"] for p in data["prompts"]} == {
        m.pk for m in mentors if m.pk % 2 == 0
    }
    assert not PromptHistory.objects.exists()


def test_it_runs_one_shard_from_the_command() -> None:
    mentors = due_mentors(6)

    data = json.loads(run("--json", "--shard", "1/2"))

    assert data["dispatched"] == 3
    assert sorted(sent_to()) == sorted(m.pk for m in mentors if m.pk % 2 == 1)


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ("2/2", "index from 0 to count - 1"),
        ("0/0", "count must be at least 1"),
        ("-1/2", "write it as i/K"),
        ("one/two", "write it as i/K"),
        ("3", "write it as i/K"),
    ],
)
def test_it_refuses_a_shard_that_is_not_one(given: str, said: str) -> None:
    with pytest.raises(CommandError, match="--shard") as refused:
        run(f"--shard={given}")
    assert said in str(refused.value)
    assert not DispatchRun.objects.exists()


def test_it_queues_one_task_per_shard_for_a_tick(settings: Any) -> None:
    settings.DISPATCH_SHARDS = 3
    mentors = due_mentors(7)

    queued = scheduled_dispatch()

    tasks = [SignedPackage.loads(q.payload) for q in OrmQ.objects.order_by("pk")]
    assert [t["func"] for t in tasks] == [SHARD_TASK] * 3
    assert [t["args"][:2] for t in tasks] == [(0, 3), (1, 3), (2, 3)]
    assert {t["args"][2] for t in tasks} == {queued["tick"]}
    assert not locmem.outbox  # the tick itself sends nothing

    for task in tasks:
        shard_dispatch(*task["args"])

    assert sorted(sent_to()) == sorted(m.pk for m in mentors)
    runs = DispatchRun.objects.order_by("shard_index")
    assert [(r.shard_index, r.shard_count, r.trigger) for r in runs] == [
        (i, 3, DispatchRun.Trigger.SCHEDULE) for i in range(3)
    ]
    assert {r.tick.hex for r in runs if r.tick} == {queued["tick"]}


def test_it_runs_an_unsharded_tick_itself(settings: Any) -> None:
    settings.DISPATCH_SHARDS = 1
    due_mentors(2)

    assert scheduled_dispatch()["dispatched"] == 2
    assert not OrmQ.objects.exists()
    assert DispatchRun.objects.get().tick is None


@pytest.mark.parametrize("shards", [257, 10_000])
def test_it_refuses_more_shards_than_it_can_record(settings: Any, shards: int) -> None:
    settings.DISPATCH_SHARDS = shards
    [error] = check_dispatch_settings()
    assert error.id == "scheduler.E010"
    assert "DISPATCH_SHARDS" in error.msg


def test_it_shows_a_sharded_tick_as_a_group_in_the_admin(settings: Any) -> None:
    settings.DISPATCH_SHARDS = 2
    settings.LANGUAGE_CODE = "en"
    due_mentors(4)
    tick = scheduled_dispatch()["tick"]
    for q in OrmQ.objects.all():
        shard_dispatch(*SignedPackage.loads(q.payload)["args"])
    other = DispatchRun.objects.create(trigger=DispatchRun.Trigger.ADMIN)
    admin = Client()
    admin.force_login(_superuser())
    changelist = reverse("admin:scheduler_dispatchrun_changelist")

    listed = admin.get(changelist).content.decode()
    assert f"?tick={tick}" in listed
    assert "1 of 2" in listed and "2 of 2" in listed

    group = admin.get(changelist, {"tick": tick}).context["cl"].result_list
    assert sorted(r.shard_index for r in group) == [0, 1]
    assert other not in group


def test_it_lists_a_ticks_shards_together_even_if_another_run_started_between_them() -> None:
    queued = timezone.now() - timedelta(minutes=5)
    tick = uuid.uuid4()

    def shard(index: int, started: timedelta) -> DispatchRun:
        return DispatchRun.objects.create(
            trigger=DispatchRun.Trigger.SCHEDULE,
            started_at=queued + started,
            shard_index=index,
            shard_count=2,
            tick=tick,
            tick_queued_at=queued,
        )

    earlier = DispatchRun.objects.create(trigger="command", started_at=queued - timedelta(1))
    first = shard(0, timedelta(seconds=1))
    between = DispatchRun.objects.create(trigger="admin", started_at=queued + timedelta(seconds=2))
    second = shard(1, timedelta(seconds=40))  # a busy node took its shard late
    admin = Client()
    admin.force_login(_superuser())

    listed = admin.get(reverse("admin:scheduler_dispatchrun_changelist")).context["cl"]
    assert list(listed.result_list) == [between, first, second, earlier]


def test_it_passes_the_ticks_queueing_time_to_each_shard(settings: Any) -> None:
    settings.DISPATCH_SHARDS = 3
    due_mentors(3)
    scheduled_dispatch()
    for q in OrmQ.objects.all():
        shard_dispatch(*SignedPackage.loads(q.payload)["args"])

    runs = DispatchRun.objects.all()
    assert len(runs) == 3 and len({r.tick_queued_at for r in runs}) == 1
    assert all(r.tick_queued_at is not None and r.tick_queued_at <= r.started_at for r in runs)


def test_it_still_runs_a_shard_queued_without_its_queueing_time() -> None:
    due_mentors(2)
    shard_dispatch(0, 1, uuid.uuid4().hex)  # as an earlier release queued it
    assert DispatchRun.objects.get().tick_queued_at is None


def _superuser() -> Any:
    from django.contrib.auth.models import User

    return User.objects.create_superuser("root", "root@example.org", "pw-not-used-1234")
