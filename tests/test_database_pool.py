"""The PostgreSQL connection pool never hands out a connection the database has dropped."""

from __future__ import annotations

import threading

import psycopg
import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client

from scheduler.models import Chapter

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# More than psycopg's own check (1, 2, 4 … s between dead ones) gets through in 30 s.
IDLE_CONNECTIONS = 8


def fill_the_pool(count: int) -> None:
    """`count` connections used at the same moment, then handed back: idle in the pool."""
    together = threading.Barrier(count)

    def use_one() -> None:
        try:
            Chapter.objects.exists()
            together.wait(timeout=10)
        finally:
            connection.close()  # back to the pool

    threads = [threading.Thread(target=use_one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=15)
    connection.close()


def terminate_every_connection() -> int:
    """What a database restart or a failover does to the pool: every backend gone."""
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as outside:
        rows = outside.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [db["NAME"]],
        ).fetchone()
    assert rows is not None
    return int(rows[0])


def test_it_answers_every_request_after_the_database_dropped_its_connections() -> None:
    assert connection.pool is not None, "the PostgreSQL pass runs with the pool (DATABASE_POOL)"
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.org", "x"))
    fill_the_pool(IDLE_CONNECTIONS)

    assert terminate_every_connection() >= IDLE_CONNECTIONS

    # Each request takes a connection from the pool and hands it back at its end:
    # unchecked, each of the dead ones would cost a request its answer (a 500).
    for _ in range(IDLE_CONNECTIONS + 1):
        assert client.get("/admin/").status_code == 200
        assert Chapter.objects.count() == 0  # and a query outside a request
        connection.close()
