"""Real `run_dispatch` processes against the test database and a loopback push service."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper

from tests.loopback import LoopbackServer

ROOT = Path(__file__).resolve().parents[2]
SUPABASE_KEY = "reliability-service-role-key-0f3a9c"
SUPABASE_PATH = "/functions/v1/dispatch-scenario-prompt"
CHILD_APPLICATION_NAME = "reliability-run-dispatch"
# Only what a child needs from our environment; everything else is set explicitly.
INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV", "PYTHONPATH", "ENV_FILE")


def child_database_url() -> str:
    """The pytest-django test database, as a DATABASE_URL a child process can use."""
    db = connection.settings_dict
    assert connection.vendor == "postgresql", "child processes need the PostgreSQL test database"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return (
        f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
        f"/{db['NAME']}?application_name={CHILD_APPLICATION_NAME}"
    )


def child_env(server: LoopbackServer | None = None, **overrides: object) -> dict[str, str]:
    env = {name: os.environ[name] for name in INHERITED if name in os.environ}
    env.update(
        {
            "SECRET_KEY": "reliability-child-secret-key",
            "DATABASE_POOL": "false",
            "PUSH_BACKEND": "supabase",
            "SUPABASE_URL": server.url if server else "http://127.0.0.1:9",
            "SUPABASE_SERVICE_ROLE_KEY": SUPABASE_KEY,
            "QUIET_HOURS": "",
            "MAX_PROMPTS_PER_MENTOR_PER_DAY": "0",
            "PUSH_CONNECT_TIMEOUT_SECONDS": "2",
            "PUSH_READ_TIMEOUT_SECONDS": "10",
            "LOG_LEVEL": "WARNING",
        }
    )
    if "DATABASE_URL" not in overrides:
        env["DATABASE_URL"] = child_database_url()
    env.update({key: str(value) for key, value in overrides.items()})
    return env


@dataclass
class Child:
    """One `run_dispatch --json` process; its output goes to files so a full pipe never blocks it."""

    process: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path

    def wait(self, timeout: float = 60) -> int:
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    def freeze(self) -> None:
        """SIGSTOP: the process stands still, as in a VM pause or a long stall, clocks running."""
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def summary(self) -> dict[str, Any]:
        return json.loads(self.stdout)


def start_dispatch(env: dict[str, str], folder: Path, name: str = "run", *args: str) -> Child:
    stdout_path, stderr_path = folder / f"{name}.out", folder / f"{name}.err"
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "run_dispatch", "--json", *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=err,
        )
    return Child(process, stdout_path, stderr_path)


def run_dispatch_process(env: dict[str, str], folder: Path, name: str = "run") -> Child:
    child = start_dispatch(env, folder, name)
    child.wait()
    return child


def sends_per_mentor(server: LoopbackServer) -> Counter[int]:
    return Counter(r.json["peer_mentor_id"] for r in server.requests_to(SUPABASE_PATH))


def wait_until(condition: Any, timeout: float = 20.0, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return False


@contextmanager
def released_together(count: int) -> Iterator[None]:
    """Runs started inside wait at their first write to the history, then all go on at once.

    The history table stays locked until `count` children wait for it, so
    their first statements meet instead of one run finishing before the next
    has started.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("LOCK TABLE scheduler_prompthistory IN EXCLUSIVE MODE")
        yield
        assert wait_until(lambda: children_waiting_for_a_lock(cursor) == count, timeout=60)


def children_waiting_for_a_lock(cursor: CursorWrapper) -> int:
    # Inside a transaction PostgreSQL keeps showing its first view of the activity table.
    cursor.execute("SELECT pg_stat_clear_snapshot()")
    cursor.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock'",
        [CHILD_APPLICATION_NAME],
    )
    return cursor.fetchone()[0]
