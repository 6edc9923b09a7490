from __future__ import annotations

import json
import os

import pytest
from django.db import connection
from django.test import Client

from scheduler.monitoring import health
from tests.health.conftest import finished_run
from tests.processes import manage

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def interval(settings: object) -> None:
    settings.DISPATCH_INTERVAL_MINUTES = 5  # stale after 15 minutes


def test_it_is_ok_when_a_run_finished_without_error_recently(client: Client) -> None:
    run = finished_run(minutes_ago=4)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "last_run_finished_at": run.finished_at.isoformat(),
        "database": "ok",
    }
    assert "no-cache" in response["Cache-Control"]


def test_it_is_stale_without_any_run(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "stale"
    assert response.json()["last_run_finished_at"] is None


def test_it_is_stale_when_the_last_run_is_older_than_three_intervals(client: Client) -> None:
    finished_run(minutes_ago=16)
    assert client.get("/healthz").json()["status"] == "stale"


def test_it_is_failing_when_the_recent_runs_ended_with_an_error(client: Client) -> None:
    finished_run(minutes_ago=30)
    finished_run(
        minutes_ago=9, error="Push backend misconfigured, run stopped: HTTP 401 for a@b.no"
    )
    finished_run(minutes_ago=2, error="OperationalError: boom")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "failing"
    assert "boom" not in response.content.decode() and "@" not in response.content.decode()


def test_it_is_ok_when_one_recent_run_succeeded_among_failures(client: Client) -> None:
    finished_run(minutes_ago=9)
    finished_run(minutes_ago=2, error="boom")
    assert client.get("/healthz").status_code == 200


def test_it_needs_no_login_and_answers_one_query(
    client: Client, django_assert_num_queries: object
) -> None:
    finished_run(minutes_ago=1)
    with django_assert_num_queries(1):  # type: ignore[operator]
        assert client.get("/healthz").status_code == 200


def test_it_answers_database_when_the_database_is_unreachable_in_a_real_process() -> None:
    env = {name: os.environ[name] for name in ("PATH", "HOME", "VIRTUAL_ENV") if name in os.environ}
    env.update(
        SECRET_KEY="healthz-child-secret",
        DATABASE_URL="postgres://postgres@127.0.0.1:9/x",
        DATABASE_POOL="false",
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="true",
        LOG_LEVEL="CRITICAL",
    )
    code = (
        "import json; from django.test import Client; "
        "r = Client(HTTP_HOST='127.0.0.1').get('/healthz'); "
        "print(json.dumps({'code': r.status_code, 'body': r.json()}))"
    )
    child = manage(env, "shell", "-c", code, timeout=60)
    assert child.returncode == 0, child.stderr
    answer = json.loads(child.stdout.strip().splitlines()[-1])
    assert answer == {"code": 503, "body": {"status": "database", "database": "unreachable"}}


def test_it_answers_head_with_the_status_and_no_body(client: Client) -> None:
    finished_run(minutes_ago=1)
    response = client.head("/healthz")
    assert response.status_code == 200
    assert response.content == b""
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]


def test_it_answers_head_with_503_when_stale(client: Client) -> None:
    assert client.head("/healthz").status_code == 503


def test_it_refuses_other_methods(client: Client) -> None:
    assert client.post("/healthz").status_code == 405


@pytest.mark.postgres
def test_it_reads_indexes_not_the_whole_table_of_runs() -> None:
    # Years of runs at five minutes, mostly successful, a failing stretch now and then.
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO scheduler_dispatchrun
                (started_at, finished_at, trigger, dispatched, failed, skipped, retrying,
                 in_doubt, deferred, error)
            SELECT now() - n * interval '5 minutes', now() - n * interval '5 minutes' + interval '3 seconds',
                   'schedule', 0, 0, 0, 0, 0, '{}',
                   CASE WHEN n % 50 < 3 THEN 'OperationalError: boom' ELSE '' END
            FROM generate_series(1, 60000) AS n
            """
        )
        cursor.execute("ANALYZE scheduler_dispatchrun")
    plan = health.snapshot_query().explain()
    assert "Seq Scan" not in plan, plan
    assert "using dispatchrun_finished on" in plan, plan
    assert "dispatchrun_finished_ok" in plan, plan
    assert health.snapshot().last_ok_at is not None
