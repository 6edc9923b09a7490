from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone, translation

from scheduler.models import DispatchRun, PromptHistory
from scheduler.push import locmem
from tests import factories as f

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> tuple[str, str]:
    """The command in English (LANGUAGE_CODE nb makes it speak Norwegian)."""
    out, err = StringIO(), StringIO()
    with translation.override("en"):
        call_command("run_dispatch", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def due_prompts():
    s = f.scenario()
    mentors = [f.mentor() for _ in range(2)]
    for m in mentors:
        f.activity(m, occurred_at=timezone.now() - timedelta(days=3, minutes=1))
    return s, mentors


def test_it_sends_once_then_nothing(due_prompts) -> None:
    out, _ = run()
    assert "Dispatched 2, failed 0, skipped 0" in out
    out, _ = run()
    assert "Dispatched 0, failed 0, skipped 0" in out
    assert len(locmem.outbox) == 2
    assert PromptHistory.objects.count() == 2


def test_it_prints_one_json_object_on_stdout(due_prompts) -> None:
    out, _ = run("--json")
    data = json.loads(out)
    assert (data["dispatched"], data["failed"], data["skipped"]) == (2, 0, 0)


def test_it_lists_the_prompts_of_a_dry_run_and_writes_nothing(due_prompts) -> None:
    s, mentors = due_prompts
    out, _ = run("--dry-run", "--json")
    data = json.loads(out)
    assert {p["peer_mentor_id"] for p in data["prompts"]} == {m.pk for m in mentors}
    assert {p["scenario_id"] for p in data["prompts"]} == {s.pk}
    for p in data["prompts"]:
        assert timezone.datetime.fromisoformat(p["due_at"]).tzinfo is not None
    assert PromptHistory.objects.count() == 0 and DispatchRun.objects.count() == 0
    assert locmem.outbox == []


def test_it_shows_progress_on_stderr(due_prompts) -> None:
    _, err = run()
    assert "1. evaluate" in err and "claimed by this run" in err and "8. done" in err


def test_it_refuses_an_unknown_scenario() -> None:
    with pytest.raises(CommandError, match="No scenario with id 999"):
        run("--scenario", "999")


def test_it_refuses_an_unknown_backend(settings, due_prompts) -> None:
    settings.PUSH_BACKEND = "carrier-pigeon"
    with pytest.raises(CommandError, match="Push backend misconfigured"):
        run()
    assert PromptHistory.objects.count() == 0


def command_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return {**env, "SECRET_KEY": "x", "PUSH_BACKEND": "console", **extra}


@pytest.mark.django_db(transaction=False)
def test_it_exits_non_zero_with_one_line_when_the_database_is_down() -> None:
    proc = subprocess.run(
        [sys.executable, "manage.py", "run_dispatch", "--json"],
        cwd=ROOT,
        env=command_env(
            DATABASE_URL="postgres://postgres@127.0.0.1:1/nowhere", DATABASE_POOL="false"
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert proc.stdout == ""
    assert proc.stderr.strip().startswith("CommandError: Database unreachable")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_it_refuses_a_disabled_scenario_instead_of_reporting_nothing() -> None:
    s = f.scenario(is_enabled=False)
    with pytest.raises(CommandError, match=f"Scenario {s.pk} is disabled"):
        run("--scenario", str(s.pk))
