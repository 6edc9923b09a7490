"""What `run_dispatch --dry-run --json` prints: the summary's own figures, every prompt."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from scheduler.dispatch.pipeline import run_dispatch
from tests import factories as f

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.get_fixed_timezone(60))
DAY = timedelta(days=1)


def test_it_prints_the_same_document_as_the_summary_describes() -> None:
    s = f.scenario(lookback_days=2)
    paused = f.mentor(prompts_paused_until=NOW + DAY)
    f.activity(paused, occurred_at=NOW - 3 * DAY)
    for days in (3, 3.5, 4):
        f.activity(f.mentor(), occurred_at=NOW - days * DAY)
    f.activity(f.mentor(), occurred_at=NOW - 5.5 * DAY)  # left the lookback half a day ago

    summary = run_dispatch(dry_run=True, now=NOW)

    assert len(summary.prompts) == 3 and summary.too_late == 1
    assert summary.deferred == {"paused": 1}
    assert json.loads(summary.as_json(dry_run=True)) == summary.as_dict(dry_run=True)
    assert json.loads(summary.as_json()) == summary.as_dict()
    assert {p["scenario_id"] for p in summary.as_dict(dry_run=True)["prompts"]} == {s.pk}


def test_it_prints_one_json_object_with_every_prompt() -> None:
    s = f.scenario()
    mentors = [f.mentor() for _ in range(3)]
    activities = [
        f.activity(m, occurred_at=NOW - 3 * DAY - i * timedelta(hours=1))
        for i, m in enumerate(mentors)
    ]
    out = StringIO()

    with time_machine.travel(NOW, tick=False):
        call_command("run_dispatch", "--dry-run", "--json", stdout=out, stderr=StringIO())

    printed = json.loads(out.getvalue())
    assert printed["too_late"] == 0 and printed["dispatched"] == 0
    # Oldest due first; due_at is the activity's time plus the delay, in ISO 8601.
    assert [
        (
            p["peer_mentor_id"],
            p["scenario_id"],
            p["activity_id"],
            datetime.fromisoformat(p["due_at"]),
        )
        for p in printed["prompts"]
    ] == [
        (m.pk, s.pk, a.pk, a.occurred_at + 3 * DAY)
        for m, a in reversed(list(zip(mentors, activities, strict=True)))
    ]
