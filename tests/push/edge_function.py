"""The dispatch-scenario-prompt Edge Function served by a real `deno serve` process."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import deno
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
FUNCTION = ROOT / "supabase" / "functions" / "dispatch-scenario-prompt" / "index.ts"
MIGRATION = next((ROOT / "supabase" / "migrations").glob("*_dispatch_idempotency.sql"))
# The npm cache `make test` fills (see the Makefile); a first run downloads into it.
DENO_DIR = os.environ.get("DENO_DIR") or str(ROOT / ".deno")
INHERITED = ("PATH", "HOME", "LANG", "TMPDIR", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY")


@dataclass(frozen=True)
class ServedFunction:
    url: str  # what SUPABASE_URL points at
    log: Path


def database_url() -> str:
    """The pytest-django test database, as the SUPABASE_DB_URL the function reads."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    return f"postgres://{db['USER']}{password}@{host}:{port}/{db['NAME']}"


@contextmanager
def function_table() -> Iterator[None]:
    """The function's own table, from its migration, as `supabase db push` creates it."""
    with connection.cursor() as cursor:
        cursor.execute(MIGRATION.read_text(encoding="utf-8"))
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS dispatch_idempotency")


@contextmanager
def served_function(env: dict[str, str], folder: Path) -> Iterator[ServedFunction]:
    port = free_port()
    log = folder / "deno-serve.log"
    child_env = {name: os.environ[name] for name in INHERITED if name in os.environ}
    child_env.update(env, DENO_DIR=DENO_DIR, DENO_NO_UPDATE_CHECK="1", NO_COLOR="1")
    command = [
        deno.find_deno_bin(),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--allow-net",
        "--allow-env",
        "--allow-read",
        str(FUNCTION),
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=child_env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        wait_for_port(port, process, log)
        yield ServedFunction(f"http://127.0.0.1:{port}", log)
    finally:
        # Not SIGTERM: `deno serve` then waits for the function's idle database connections
        # to time out (30 s) before it exits.
        process.kill()
        process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    # The first run may download the function's npm package into DENO_DIR.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"deno serve exited:\n{log.read_text(errors='replace')}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"deno serve did not listen:\n{log.read_text(errors='replace')}")
