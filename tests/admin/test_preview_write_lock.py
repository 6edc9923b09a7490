"""On SQLite a scenario's preview never holds the database's write lock.

A coordinator simulating a test activity must not hold up a dispatch run that
writes at the same time: while the simulation is inside its sandbox, another
connection to the same database file begins an IMMEDIATE (write) transaction
without waiting, and commits.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from django.db import connection

from tests.processes import manage

pytestmark = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="the write lock is SQLite's; the SQLite pass runs it"
)

# Runs in `manage.py shell` against a database file: requests a preview with a
# test activity, and writes on a second connection from inside the sandbox.
PREVIEW_WHILE_ANOTHER_CONNECTION_WRITES = """
import json, sqlite3
from datetime import timedelta
from unittest import mock

from django.conf import settings
from django.db import connection
from django.contrib.auth.models import User
from django.test import Client
from django.test.utils import setup_test_environment
from django.urls import reverse
from django.utils import timezone

from scheduler.coordinators import explain
from scheduler.models import Activity, Chapter, PeerMentor, Scenario

setup_test_environment()
chapter = Chapter.objects.create(name="Oslo")
scenario = Scenario.objects.create(
    name="s", chapter=chapter, is_enabled=True, title="t", body="b", delay_days=3
)
client = Client(HTTP_ACCEPT_LANGUAGE="en")
client.force_login(User.objects.create_superuser("root", "root@example.org", "x"))
writes = []
verdict_for = explain.verdict_for


def write_on_another_connection(*args, **kwargs):
    other = sqlite3.connect(settings.DATABASES["default"]["NAME"], timeout=0)
    other.isolation_level = None
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("UPDATE scheduler_chapter SET name = 'Oslo!'")
        other.execute("COMMIT")
        writes.append("committed")
    except sqlite3.OperationalError as error:
        writes.append(str(error))
    finally:
        other.close()
    return verdict_for(*args, **kwargs)


at = timezone.localtime() - timedelta(days=1)
params = {
    "sim-kind": "first_contact",
    "sim-occurred_at_0": at.strftime("%Y-%m-%d"),
    "sim-occurred_at_1": at.strftime("%H:%M:%S"),
}
with mock.patch.object(explain, "verdict_for", write_on_another_connection):
    response = client.get(reverse("admin:scheduler_scenario_preview", args=[scenario.pk]), params)
print(json.dumps({
    "status": response.status_code,
    "simulated": b'id="simulation-result"' in response.content,
    "writes": writes,
    "left_behind": [Activity.objects.count(), PeerMentor.objects.count(), Chapter.objects.count()],
    "chapter": Chapter.objects.get().name,
    "temp_tables": connection.cursor().execute(
        "SELECT name FROM sqlite_temp_master WHERE name LIKE 'scheduler%'"
    ).fetchall(),
}))
"""


def test_another_connection_writes_while_a_simulation_is_in_its_sandbox(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "SECRET_KEY": "test",
    }
    assert manage(env, "migrate", "-v0").returncode == 0

    proc = manage(env, "shell", "-c", PREVIEW_WHILE_ANOTHER_CONNECTION_WRITES)

    assert proc.returncode == 0, proc.stderr[-2000:]
    outcome = json.loads(proc.stdout.strip().splitlines()[-1])
    assert outcome["status"] == 200
    assert outcome["simulated"]
    assert outcome["writes"] == ["committed"]  # not "database is locked"
    assert outcome["left_behind"] == [0, 0, 1]
    assert outcome["chapter"] == "Oslo!"
    assert outcome["temp_tables"] == []
