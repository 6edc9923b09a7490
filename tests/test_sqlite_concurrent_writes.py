"""The zero-setup SQLite default keeps working while other processes write."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.processes import manage

SEED = """
from datetime import timedelta
from django.utils import timezone
from tests import factories
mentors = factories.mentors(50)
when = timezone.now() - timedelta(days=3, hours=1)
factories.activities((mentors[i % 50] for i in range(2500)), occurred_at=when)
factories.scenario()
"""


def test_it_finishes_a_long_run_while_another_connection_commits(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "SECRET_KEY": "test",
        "PUSH_BACKEND": "tests.sqlite_writer_backend.ConcurrentWriterBackend",
    }
    assert manage(env, "migrate", "-v0").returncode == 0
    assert manage(env, "shell", "-c", SEED).returncode == 0

    proc = manage(env, "run_dispatch", "--json")

    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["dispatched"] == 2500
    assert "database is locked" not in proc.stderr
