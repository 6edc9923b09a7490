"""What `run_dispatch --dry-run --json` prints: the summary's own figures, every prompt."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from scheduler.dispatch.evaluation import evaluate, evaluate_all, load_scenarios
from scheduler.dispatch.pipeline import run_dispatch
from scheduler.dispatch.policy import Admission
from scheduler.dispatch.summary import Tally
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


def test_it_lists_a_dry_run_in_the_order_a_run_would_claim() -> None:
    for delay in (2, 3, 3):  # two scenarios due at the same moments: ties in stream order
        f.scenario(delay_days=delay)
    mentors = f.mentors(5)
    for days in (3, 3, 4, 5.5):
        f.activities(mentors, occurred_at=NOW - days * DAY)
    scenarios = load_scenarios(None)

    merged = list(evaluate(scenarios, NOW, too_late_within=DAY))
    assert len(merged) > 20
    assert evaluate_all(scenarios, NOW, too_late_within=DAY) == merged


def test_it_holds_back_the_same_prompts_in_one_pass_as_batch_by_batch(settings: Any) -> None:
    f.scenario(lookback_days=2)
    f.activities(f.mentors(3, prompts_paused_until=NOW + DAY), occurred_at=NOW - 3 * DAY)
    f.activities(f.mentors(4), occurred_at=NOW - 3 * DAY)
    with time_machine.travel(NOW, tick=False):
        one_pass = run_dispatch(dry_run=True, now=NOW)
        settings.MAX_PROMPTS_PER_MENTOR_PER_DAY = 5  # the batch path, predicting the cap
        by_batch = run_dispatch(dry_run=True, now=NOW)
    assert Admission(NOW, Tally(), predict_daily_cap=True).only_holds is False
    assert one_pass.prompts == by_batch.prompts and len(one_pass.prompts) == 4
    assert one_pass.deferred == by_batch.deferred == {"paused": 3}
