"""Two real web processes on one PostgreSQL database share the API's budgets
when API_THROTTLE_CACHE_URL names a database cache, and each keeps its own without."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from itertools import cycle
from pathlib import Path

import pytest
import requests
from django.db import connection

from tests import factories
from tests.api.conftest import KeySetServer
from tests.api.keys import SigningKey
from tests.reliability.children import INHERITED, ROOT, child_database_url

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# Windows of a day: the test never straddles one (but at midnight UTC).
RATES = {"API_THROTTLE_RATE": "5/d", "API_AUTH_FAILURE_RATE": "3/d"}
SHARED = "dbcache://api_throttle_processes"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def web_env(key_server: KeySetServer, **overrides: str) -> dict[str, str]:
    env = {name: os.environ[name] for name in INHERITED if name in os.environ}
    env.update(
        {
            "SECRET_KEY": "throttle-processes-secret-key",
            "DATABASE_URL": child_database_url(),
            "DATABASE_POOL": "false",
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",
            "SUPABASE_URL": key_server.url,
            "LOG_LEVEL": "ERROR",
            **RATES,
            **overrides,
        }
    )
    return env


@contextmanager
def web_process(env: dict[str, str], folder: Path) -> Iterator[str]:
    """`manage.py runserver` in a process of its own; yields its base URL once it answers."""
    port = free_port()
    with (folder / f"web-{port}.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "the web process stopped"
        try:
            requests.get(f"{url}/api/v1/", timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise AssertionError("the web process never answered")


@contextmanager
def two_web_processes(env: dict[str, str], folder: Path) -> Iterator[list[str]]:
    with ExitStack() as stack:
        yield [stack.enter_context(web_process(env, folder)) for _ in range(2)]


def statuses(urls: list[str], tokens: list[str]) -> list[int]:
    """One request per token, taking turns between the processes."""
    return [
        requests.get(
            f"{url}/api/v1/prompts", headers={"Authorization": f"Bearer {token}"}, timeout=10
        ).status_code
        for url, token in zip(cycle(urls), tokens, strict=False)
    ]


def migrate(env: dict[str, str]) -> None:
    # Nothing left to migrate: this creates the database cache's table.
    done = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_it_shares_both_budgets_between_processes_with_a_database_cache(
    key_server: KeySetServer, es_key: SigningKey, tmp_path: Path
) -> None:
    user_id = uuid.uuid4()
    factories.mentor(tokens=0, auth_user_id=user_id)
    token = key_server.token(user_id, es_key)
    env = web_env(key_server, API_THROTTLE_CACHE_URL=SHARED)
    migrate(env)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM api_throttle_processes")  # counts of an earlier run
    with two_web_processes(env, tmp_path) as urls:
        assert statuses(urls, [token] * 6) == [200] * 5 + [429]
        assert statuses(urls, ["not-a-jwt"] * 5) == [401] * 3 + [429] * 2


def test_it_counts_per_process_without_a_shared_cache(
    key_server: KeySetServer, es_key: SigningKey, tmp_path: Path
) -> None:
    user_id = uuid.uuid4()
    factories.mentor(tokens=0, auth_user_id=user_id)
    token = key_server.token(user_id, es_key)
    with two_web_processes(web_env(key_server), tmp_path) as urls:
        assert statuses(urls, [token] * 10) == [200] * 10
