"""What a new user meets on a fresh clone: the development .env, a quiet terminal, Ctrl-C."""

from __future__ import annotations

import logging
import os
import pty
import select
import socket
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import translation

from tests import factories
from tests.processes import ROOT, manage


def write_dev_env(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "scripts/dev_env.py", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )


def bare_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """What a new user's shell has: no DEBUG, no SECRET_KEY."""
    env = {name: os.environ[name] for name in ("PATH", "HOME", "VIRTUAL_ENV") if name in os.environ}
    return {"DATABASE_URL": f"sqlite:///{tmp_path / 'dev.sqlite3'}", **env, **extra}


def test_it_writes_a_development_env_that_makes_the_readme_commands_work(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    assert manage(bare_env(tmp_path, ENV_FILE=str(dotenv)), "check").returncode != 0
    write_dev_env(dotenv)
    text = dotenv.read_text()
    assert "DEBUG=true" in text
    secret = next(line for line in text.splitlines() if line.startswith("SECRET_KEY="))
    assert len(secret) > len("SECRET_KEY=") + 40
    assert dotenv.stat().st_mode & 0o077 == 0  # readable by its owner only
    proc = manage(bare_env(tmp_path, ENV_FILE=str(dotenv)), "check")
    assert proc.returncode == 0, proc.stderr


def test_it_never_overwrites_an_existing_env(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("DEBUG=false\nSECRET_KEY=mine\n")
    write_dev_env(dotenv)
    assert dotenv.read_text() == "DEBUG=false\nSECRET_KEY=mine\n"


def test_it_keeps_the_development_env_out_of_git() -> None:
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT, check=False)
    assert ignored.returncode == 0


def test_it_serves_a_favicon(client: Client) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"


def test_it_logs_logins_and_the_reloader_once_and_quietly() -> None:
    # django-axes' per-login lines are INFO: shown only with LOG_LEVEL=DEBUG.
    assert not logging.getLogger("axes.handlers.database").isEnabledFor(logging.INFO)
    assert logging.getLogger("axes.handlers.database").isEnabledFor(logging.WARNING)
    # Django's own console handler would print "Watching for file changes" a second time.
    assert logging.getLogger("django").handlers == []
    assert logging.getLogger("django.utils.autoreload").isEnabledFor(logging.INFO)


@pytest.mark.django_db
def test_it_explains_the_scenario_report_in_norwegian() -> None:
    scenario = factories.scenario(name="Sjekk inn")
    out = StringIO()
    with translation.override("nb"):
        call_command("scenario_report", "--days", "7", stdout=out, stderr=StringIO())
    text = out.getvalue()
    assert "Påminnelser opprettet fra" in text and "de siste 7 dagene" in text
    assert "Median: for påminnelsene som ble fulgt opp" in text
    assert "Sjekk inn" in text and scenario.pk


@pytest.mark.django_db
def test_it_prints_the_median_with_a_decimal_comma() -> None:
    from scheduler.coordinators.report import Figures, ScenarioRow
    from scheduler.management.commands.scenario_report import line

    row = ScenarioRow(1, "Sjekk inn", Figures(4, 2, 2, 12.5))
    with translation.override("nb"):
        assert "median 12,5 t" in line(row)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_until(fd: int, marker: bytes, seconds: float) -> bytes:
    seen = b""
    end = time.monotonic() + seconds
    while time.monotonic() < end and marker not in seen:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    return seen


def test_it_ends_the_development_servers_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    env = bare_env(
        tmp_path,
        ENV_FILE="",
        DEBUG="true",
        RUN_ADDR=f"127.0.0.1:{free_port()}",
        LANG=os.environ.get("LANG", "C.UTF-8"),
    )
    assert manage(env, "migrate", "-v0").returncode == 0
    pid, fd = pty.fork()
    if pid == 0:  # the child: a terminal's foreground job, as `make run` starts it
        os.chdir(ROOT)
        os.execvpe("bash", ["bash", "scripts/run_dev.sh"], env)
    try:
        started = read_until(fd, b"Quit the server", 60)
        assert b"Quit the server" in started, started.decode(errors="replace")[-2000:]
        read_until(fd, b"running.", 10)  # the cluster is up too
        os.write(fd, b"\x03")  # Ctrl-C: the terminal signals the whole foreground group
        rest = read_until(fd, b"\x00never", 30)
    finally:
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, rest.decode(errors="replace")[-2000:]
    assert b"has stopped" in rest
    assert b"Traceback" not in started + rest
    assert started.count(b"Watching for file changes") == 1
