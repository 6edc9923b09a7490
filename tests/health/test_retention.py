"""Old dispatch runs are deleted in batches; the prompts they wrote stay."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from scheduler import retention, tasks
from scheduler.models import DispatchRun, PromptHistory
from scheduler.push import locmem
from tests import factories

pytestmark = pytest.mark.django_db


def run_started(days_ago: float) -> DispatchRun:
    started = timezone.now() - timedelta(days=days_ago)
    return DispatchRun.objects.create(
        trigger=DispatchRun.Trigger.SCHEDULE,
        started_at=started,
        finished_at=started + timedelta(seconds=3),
    )


def prompt_of(run: DispatchRun) -> PromptHistory:
    mentor = factories.mentor()
    activity = factories.activity(mentor, days_ago=100)
    return PromptHistory.objects.create(
        peer_mentor=mentor,
        scenario=factories.scenario(),
        activity=activity,
        status=PromptHistory.Status.DISPATCHED,
        run=run,
        title="Check in",
        body="How did it go?",
    )


def test_it_deletes_runs_older_than_the_retention_and_keeps_their_prompts(settings: Any) -> None:
    settings.DISPATCH_RUN_RETENTION_DAYS = 90
    old, recent = run_started(days_ago=91), run_started(days_ago=89)
    kept_prompt, recent_prompt = prompt_of(old), prompt_of(recent)

    assert retention.prune_dispatch_runs() == 1

    assert list(DispatchRun.objects.values_list("pk", flat=True)) == [recent.pk]
    kept_prompt.refresh_from_db()
    recent_prompt.refresh_from_db()
    assert kept_prompt.run_id is None
    assert (kept_prompt.status, kept_prompt.title) == ("dispatched", "Check in")
    assert recent_prompt.run_id == recent.pk


def test_it_prunes_in_batches_with_the_same_few_statements_each(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.DISPATCH_RUN_RETENTION_DAYS = 90
    monkeypatch.setattr(retention, "BATCH_SIZE", 10)
    runs = [run_started(days_ago=100 + n) for n in range(25)]
    for run in runs[:5]:
        prompt_of(run)

    with CaptureQueriesContext(connection) as queries:
        assert retention.prune_dispatch_runs() == 25
    per_batch = {"SELECT", "UPDATE", "DELETE"}
    statements = [q["sql"].split()[0] for q in queries.captured_queries]
    # Three batches (10, 10, 5): a handful of statements each, not one per run or prompt
    # (the select, the prompts' and the escalations' run set null, the delete).
    assert set(statements) - {"SAVEPOINT", "RELEASE"} == per_batch
    assert len([s for s in statements if s in per_batch]) <= 3 * 5
    assert PromptHistory.objects.count() == 5
    assert not DispatchRun.objects.exists()


def test_it_stops_after_its_batches_and_leaves_the_rest_for_the_next_time(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.DISPATCH_RUN_RETENTION_DAYS = 90
    monkeypatch.setattr(retention, "BATCH_SIZE", 2)
    monkeypatch.setattr(retention, "MAX_BATCHES", 2)
    oldest = [run_started(days_ago=200 + n) for n in range(5)]
    assert retention.prune_dispatch_runs() == 4
    assert list(DispatchRun.objects.values_list("pk", flat=True)) == [oldest[0].pk]


def test_it_prunes_after_a_scheduled_run(settings: Any) -> None:
    settings.DISPATCH_RUN_RETENTION_DAYS = 30
    settings.PUSH_BACKEND = "locmem"
    old = run_started(days_ago=31)
    prompt = prompt_of(old)
    tasks.scheduled_dispatch()
    assert not DispatchRun.objects.filter(pk=old.pk).exists()
    assert DispatchRun.objects.count() == 1  # the run that just happened
    prompt.refresh_from_db()
    assert prompt.run_id is None
    assert locmem.outbox == []


def test_it_prunes_after_run_dispatch_but_not_after_a_dry_run(settings: Any) -> None:
    settings.DISPATCH_RUN_RETENTION_DAYS = 30
    old = run_started(days_ago=31)
    call_command("run_dispatch", "--dry-run", stdout=StringIO(), stderr=StringIO())
    assert DispatchRun.objects.filter(pk=old.pk).exists()
    call_command("run_dispatch", stdout=StringIO(), stderr=StringIO())
    assert not DispatchRun.objects.filter(pk=old.pk).exists()
