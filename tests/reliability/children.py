"""Real `run_dispatch` processes against the test database and a loopback push service."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import connection

from tests.loopback import LoopbackServer

ROOT = Path(__file__).resolve().parents[2]
SUPABASE_KEY = "reliability-service-role-key-0f3a9c"
SUPABASE_PATH = "/functions/v1/dispatch-scenario-prompt"
CHILD_APPLICATION_NAME = "reliability-run-dispatch"
# Only what a child needs from our environment; everything else is set explicitly.
INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV", "PYTHONPATH")


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
