"""The database away at the start or gone in the middle of a run."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from scheduler.models import DispatchRun, PromptHistory, PromptStatus
from tests.loopback import Answer, LoopbackServer
from tests.reliability.children import (
    CHILD_APPLICATION_NAME,
    SUPABASE_PATH,
    Child,
    child_env,
    run_dispatch_process,
    sends_per_mentor,
    start_dispatch,
)
from tests.reliability.seeding import seed_due_prompts

STALE_SECONDS = 3


@pytest.mark.django_db
def test_it_sends_nothing_when_the_database_is_unreachable_at_start(
    push_service: LoopbackServer, tmp_path: Path
) -> None:
    push_service.always(SUPABASE_PATH, Answer(200, {"ok": True}))
    env = child_env(push_service, DATABASE_URL="postgres://postgres@127.0.0.1:1/nowhere")

    child = run_dispatch_process(env, tmp_path)

    assert child.process.returncode != 0
    assert child.stdout == ""
    assert child.stderr.strip().startswith("CommandError: Database unreachable")
    assert len(child.stderr.strip().splitlines()) == 1
    assert push_service.requests == []


def terminate_child_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            # Only this test database's: another database's runs on the same server
            # (a second checkout's test run) are not this test's to end.
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = %s AND datname = current_database() "
            "AND pid <> pg_backend_pid()",
            [CHILD_APPLICATION_NAME],
        )
        return cursor.fetchone()[0]


def allow_connections(allowed: bool) -> None:
    """Open or close the test database to new connections (from the maintenance database)."""
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as maintenance:
        name = connection.ops.quote_name(db["NAME"])
        maintenance.execute(f"ALTER DATABASE {name} WITH ALLOW_CONNECTIONS {str(allowed).lower()}")


def started_mentors() -> set[int]:
    rows = PromptHistory.objects.filter(sending_started_at__isnull=False)
    return set(rows.values_list("peer_mentor_id", flat=True))


def start_slow_run(push_service: LoopbackServer, tmp_path: Path) -> tuple[dict[str, str], Child]:
    push_service.always(SUPABASE_PATH, Answer(200, {"ok": True}, delay=0.3))
    env = child_env(
        push_service,
        DISPATCH_CONCURRENCY=2,
        DISPATCH_BATCH_SIZE=10,
        DISPATCH_STALE_CLAIM_SECONDS=STALE_SECONDS,
    )
    child = start_dispatch(env, tmp_path, "dropped")
    assert push_service.wait_for(4, SUPABASE_PATH, timeout=30)
    return env, child


def finish_with_a_later_run(
    env: dict[str, str], push_service: LoopbackServer, tmp_path: Path, mentor_ids: list[int]
) -> None:
    """After the stale timeout a later run sends the rest: each prompt once, or flagged."""
    push_service.always(SUPABASE_PATH, Answer(200, {"ok": True}))
    time.sleep(STALE_SECONDS + 0.5)
    later = run_dispatch_process(env, tmp_path, "later")

    assert later.process.returncode == 0, later.stderr
    sends = sends_per_mentor(push_service)
    assert set(sends) == set(mentor_ids)
    assert set(sends.values()) == {1}
    statuses = dict(PromptHistory.objects.values_list("peer_mentor_id", "status"))
    assert set(statuses) == set(mentor_ids)
    assert set(statuses.values()) <= {PromptStatus.DISPATCHED, PromptStatus.FAILED}
    in_doubt = {pk for pk, status in statuses.items() if status == PromptStatus.FAILED}
    assert in_doubt <= set(sends), "only a prompt whose request went out may be in doubt"
    assert later.summary()["in_doubt"] == len(in_doubt)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_carries_on_after_its_connection_is_dropped_and_sends_nothing_unclaimed(
    push_service: LoopbackServer, tmp_path: Path
) -> None:
    seeded = seed_due_prompts(30)
    env, child = start_slow_run(push_service, tmp_path)

    assert terminate_child_connections() >= 1
    assert child.wait(timeout=30) == 0, child.stderr

    # The wave whose "sending" mark failed was not sent; the run reconnected for the rest.
    assert "could not mark" in child.stderr
    assert set(sends_per_mentor(push_service)) <= started_mentors()
    run = DispatchRun.objects.get()
    assert run.finished_at is not None
    assert child.summary()["dispatched"] == len(sends_per_mentor(push_service))
    finish_with_a_later_run(env, push_service, tmp_path, seeded.mentor_ids)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_ends_with_a_one_line_error_when_the_database_stays_away_and_a_later_run_finishes(
    push_service: LoopbackServer, tmp_path: Path
) -> None:
    seeded = seed_due_prompts(30)
    env, child = start_slow_run(push_service, tmp_path)

    allow_connections(False)
    try:
        assert terminate_child_connections() >= 1
        child.wait(timeout=30)
    finally:
        allow_connections(True)

    assert child.process.returncode == 1
    assert child.stdout == ""
    last_line = child.stderr.strip().splitlines()[-1]
    assert last_line.startswith("CommandError: Database error during the run: ")
    # Not even the run's own row could be written: the reason is in the log instead.
    assert "could not store the summary of dispatch run" in child.stderr
    assert set(sends_per_mentor(push_service)) <= started_mentors()
    finish_with_a_later_run(env, push_service, tmp_path, seeded.mentor_ids)
