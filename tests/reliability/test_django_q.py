"""The django-q2 path: never two overlapping runs that double-send, never a re-delivered task."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import threading
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection
from django_q.models import Schedule

from scheduler.dispatch.schedule import SCHEDULE_NAME
from scheduler.tasks import scheduled_dispatch
from tests.loopback import Answer, LoopbackServer
from tests.reliability.children import (
    ROOT,
    SUPABASE_KEY,
    SUPABASE_PATH,
    child_env,
    sends_per_mentor,
)
from tests.reliability.seeding import seed_due_prompts

schedule_migration = importlib.import_module("scheduler.migrations.0002_dispatch_schedule")


def test_it_never_hands_a_running_task_to_a_second_worker() -> None:
    q = django_settings.Q_CLUSTER
    # django-q2 re-delivers a task not acknowledged within `retry` seconds; the
    # worker kills it after `timeout`. So timeout < retry, and the run's own
    # deadline ends it well before the timeout does.
    assert django_settings.DISPATCH_RUN_DEADLINE_SECONDS < q["timeout"] < q["retry"]
    assert q["max_attempts"] == 1  # a failed run is not replayed: the next schedule runs anew
    assert q["catch_up"] is False  # missed schedules are not replayed in a burst


def test_it_keeps_timeout_below_retry_whatever_the_deadline_is_set_to() -> None:
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.DISPATCH_RUN_DEADLINE_SECONDS, s.Q_CLUSTER['timeout'], "
        "s.Q_CLUSTER['retry']]))"
    )
    env = child_env(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL="sqlite:///:memory:",
        DISPATCH_RUN_DEADLINE_SECONDS=3600,
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    deadline, timeout, retry = json.loads(proc.stdout)
    assert deadline == 3600
    assert deadline < timeout < retry


@pytest.mark.django_db(serialized_rollback=True)
def test_it_has_the_dispatch_schedule_once_with_the_right_task_and_interval() -> None:
    [schedule] = Schedule.objects.filter(func="scheduler.tasks.scheduled_dispatch")
    assert schedule.name == schedule_migration.SCHEDULE_NAME
    assert schedule.schedule_type == Schedule.MINUTES
    assert schedule.minutes == django_settings.DISPATCH_INTERVAL_MINUTES
    assert schedule.repeats == -1  # forever


@pytest.mark.django_db(serialized_rollback=True)
def test_it_does_not_duplicate_the_schedule_when_the_migration_runs_again() -> None:
    schedule_migration.create_schedule(apps, None)
    schedule_migration.create_schedule(apps, None)
    assert Schedule.objects.filter(name=schedule_migration.SCHEDULE_NAME).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_sends_each_prompt_once_when_a_scheduled_run_outlives_its_interval(
    settings: Any, push_service: LoopbackServer
) -> None:
    settings.PUSH_BACKEND = "supabase"
    settings.SUPABASE_URL = push_service.url
    settings.SUPABASE_SERVICE_ROLE_KEY = SUPABASE_KEY
    settings.DISPATCH_CONCURRENCY = 4
    settings.DISPATCH_BATCH_SIZE = 10
    seeded = seed_due_prompts(60)
    push_service.always(SUPABASE_PATH, Answer(200, {"ok": True}, delay=0.05))
    results: list[dict[str, object]] = []
    barrier = threading.Barrier(2)

    def worker() -> None:
        try:
            barrier.wait()
            results.append(scheduled_dispatch())
        finally:
            connection.close()

    workers = [threading.Thread(target=worker) for _ in range(2)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=60)

    assert len(results) == 2
    assert sum(int(r["dispatched"]) for r in results) == len(seeded.mentor_ids)
    sends = sends_per_mentor(push_service)
    assert set(sends) == set(seeded.mentor_ids)
    assert set(sends.values()) == {1}


@pytest.mark.django_db(serialized_rollback=True)
def test_it_follows_a_changed_interval_on_the_next_migrate(settings) -> None:
    settings.DISPATCH_INTERVAL_MINUTES = 17
    call_command("migrate", verbosity=0)
    [schedule] = Schedule.objects.filter(name=SCHEDULE_NAME)
    assert schedule.minutes == 17
