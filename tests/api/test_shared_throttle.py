"""API_THROTTLE_CACHE_URL: the throttle counts where every web process sees the same numbers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.db import connection, connections

from config.settings import _throttle_cache
from scheduler.api import throttle
from scheduler.api.shared_cache import DatabaseCache
from scheduler.apps import create_cache_tables
from tests.api.conftest import App

TABLE = "api_throttle_test"


@pytest.fixture
def database_cache(settings: Any) -> DatabaseCache:
    """The throttle counting in a database cache, as with API_THROTTLE_CACHE_URL=dbcache://."""
    settings.CACHES = {
        **settings.CACHES,
        throttle.THROTTLE_CACHE: _throttle_cache(f"dbcache://{TABLE}"),
    }
    create_cache_tables()
    cache = throttle.throttle_cache()
    assert isinstance(cache, DatabaseCache)
    cache.clear()
    return cache


def another_process_client() -> DatabaseCache:
    """A fresh client over the same table, as another web process would have."""
    del caches[throttle.THROTTLE_CACHE]
    return throttle.throttle_cache()  # type: ignore[return-value]


@pytest.mark.django_db
def test_it_counts_a_mentor_across_clients_of_one_table(
    settings: Any, database_cache: DatabaseCache, app: App
) -> None:
    settings.API_THROTTLE_RATE = "5/d"
    statuses = [app.get("/prompts").status_code for _ in range(3)]
    assert another_process_client() is not database_cache
    statuses += [app.get("/prompts").status_code for _ in range(3)]
    assert statuses == [200] * 5 + [429]


@pytest.mark.django_db
def test_it_keeps_the_expiry_when_counting(database_cache: DatabaseCache) -> None:
    database_cache.add("counter", 1, timeout=100)
    before = expiry_of(database_cache.make_and_validate_key("counter"))
    assert database_cache.incr("counter") == 2
    assert database_cache.incr("counter", 3) == 5
    assert expiry_of(database_cache.make_and_validate_key("counter")) == before


@pytest.mark.django_db
def test_it_refuses_to_count_a_missing_key(database_cache: DatabaseCache) -> None:
    with pytest.raises(ValueError, match="not found"):
        database_cache.incr("never-added")


def expiry_of(key: str) -> object:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT expires FROM {TABLE} WHERE cache_key = %s", [key])
        return cursor.fetchone()[0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_loses_no_count_between_connections(database_cache: DatabaseCache) -> None:
    database_cache.add("shared", 0, timeout=600)

    def count_from_own_connection(times: int) -> None:
        # Each thread has its own connection and client, like a process of its own.
        try:
            for _ in range(times):
                throttle.increment(throttle.throttle_cache(), "shared", timeout=600)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(count_from_own_connection, [25] * 8))
    assert database_cache.get("shared") == 200


def test_it_reads_the_cache_url() -> None:
    assert _throttle_cache("locmemcache://api-throttle") == {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "api-throttle",
    }
    database = _throttle_cache("dbcache://api_throttle")
    assert database["BACKEND"] == "scheduler.api.shared_cache.DatabaseCache"
    assert database["LOCATION"] == "api_throttle"
    assert database["OPTIONS"]["MAX_ENTRIES"] == 5000
    assert _throttle_cache("dbcache://t?max_entries=99")["OPTIONS"]["MAX_ENTRIES"] == 99


@pytest.mark.django_db
def test_it_creates_the_cache_table_when_migrating(settings: Any) -> None:
    settings.CACHES = {
        **settings.CACHES,
        throttle.THROTTLE_CACHE: _throttle_cache("dbcache://api_throttle_migrated"),
    }
    assert "api_throttle_migrated" not in connection.introspection.table_names()
    call_command("migrate", verbosity=0)
    assert "api_throttle_migrated" in connection.introspection.table_names()
