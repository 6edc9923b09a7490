"""The escalation's fields: finished_at where a prompt ends, escalate_after_days's range,
the migration's fill, the system check and the report's count."""

from __future__ import annotations

import importlib
import json
from datetime import datetime, timedelta
from io import StringIO
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.test import override_settings
from django.utils import timezone

from scheduler.checks import check_coordinator_emails
from scheduler.coordinators.forms import ScenarioForm
from scheduler.dispatch.ledger import Ledger, PromptResult
from scheduler.dispatch.recovery import close_reclaimable
from scheduler.due_prompts import DuePrompt
from scheduler.models import DispatchRun, Escalation, PromptHistory, PromptStatus, Scenario
from tests import factories
from tests.escalation.concerns import coordinator, escalating_scenario, finished_prompt

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.get_fixed_timezone(60))


def test_it_sets_finished_at_when_a_prompt_is_dispatched_failed_or_skipped() -> None:
    scenario = factories.scenario()
    due = []
    for _ in range(4):
        activity = factories.activity(factories.mentor(), occurred_at=NOW - timedelta(days=3))
        due.append(DuePrompt(activity.peer_mentor_id, scenario.pk, activity.pk, NOW))
    ledger = Ledger(DispatchRun.objects.create(trigger="command"), {scenario.pk: scenario})
    claimed = ledger.mark_sending(ledger.claim(due, NOW), NOW)
    at = NOW + timedelta(seconds=5)
    statuses = [
        PromptStatus.DISPATCHED,
        PromptStatus.FAILED,
        PromptStatus.SKIPPED,
        PromptStatus.RETRY,
    ]
    ledger.record(
        [PromptResult(p, s, finished_at=at) for p, s in zip(claimed, statuses, strict=True)]
    )

    rows = {r.status: r for r in PromptHistory.objects.all()}
    assert (
        rows[PromptStatus.DISPATCHED].finished_at
        == rows[PromptStatus.DISPATCHED].dispatched_at
        == at
    )
    assert rows[PromptStatus.FAILED].finished_at == at
    assert rows[PromptStatus.SKIPPED].finished_at == at
    assert rows[PromptStatus.RETRY].finished_at is None


def test_it_sets_finished_at_when_a_retry_is_closed_as_too_late() -> None:
    scenario = factories.scenario()
    prompt = factories.prompt(
        scenario,
        status=PromptStatus.RETRY,
        next_attempt_at=NOW - timedelta(hours=1),
        due_at=NOW - timedelta(days=30),
    )
    close_reclaimable({scenario.pk: scenario}, NOW)
    prompt.refresh_from_db()
    assert prompt.status == PromptStatus.FAILED
    assert prompt.finished_at == NOW


@pytest.mark.parametrize(
    "days, valid", [(None, True), (1, True), (30, True), (0, False), (31, False)]
)
def test_it_takes_escalate_after_days_blank_or_from_1_to_30(days: int | None, valid: bool) -> None:
    data = {
        "name": "Concern",
        "trigger_kind": "first_contact",
        "delay_days": 3,
        "lookback_days": 7,
        "escalate_after_days": "" if days is None else days,
        "title": "Check in",
        "body": "Time to check in.",
    }
    form = ScenarioForm(data)
    assert form.is_valid() is valid
    if not valid:
        assert "escalate_after_days" in form.errors


def test_it_refuses_escalate_after_days_out_of_range_in_the_database() -> None:
    scenario = factories.scenario()
    with pytest.raises(IntegrityError), transaction.atomic():
        Scenario.objects.filter(pk=scenario.pk).update(escalate_after_days=31)


def test_it_fills_finished_at_of_existing_finished_rows_from_their_latest_time() -> None:
    migration = importlib.import_module("scheduler.migrations.0011_escalation")
    t = NOW - timedelta(days=3)
    sent = factories.prompt(status=PromptStatus.DISPATCHED, dispatched_at=t, finished_at=None)
    failed = factories.prompt(
        status=PromptStatus.FAILED,
        created_at=t,
        claimed_at=t + timedelta(minutes=1),
        sending_started_at=t + timedelta(minutes=2),
        finished_at=None,
    )
    skipped = factories.prompt(status=PromptStatus.SKIPPED, created_at=t, finished_at=None)
    retry = factories.prompt(status=PromptStatus.RETRY, created_at=t)

    # The function reads only the editor's connection; a real editor cannot open in a test's
    # transaction on SQLite.
    migration.fill_finished_at(None, SimpleNamespace(connection=connection))

    for row in (sent, failed, skipped, retry):
        row.refresh_from_db()
    assert sent.finished_at == t
    assert failed.finished_at == t + timedelta(minutes=2)
    assert skipped.finished_at == t
    assert retry.finished_at is None


def test_it_warns_naming_coordinators_without_an_email_address_while_a_scenario_escalates() -> None:
    chapter = factories.chapter()
    coordinator("kari", chapter)
    coordinator("ola", chapter, email="")
    assert check_coordinator_emails(databases=["default"]) == []  # no scenario escalates yet
    escalating_scenario()
    assert check_coordinator_emails() == []  # only where Django runs database checks

    with override_settings(SITE_URL="https://varsler.example.org"):
        [warning] = check_coordinator_emails(databases=["default"])
    with override_settings(SITE_URL=""):
        ids = {w.id for w in check_coordinator_emails(databases=["default"])}

    assert warning.id == "scheduler.W010"
    assert "ola" in warning.msg and "kari" not in warning.msg
    assert ids == {"scheduler.W010", "scheduler.W011"}


def test_it_counts_escalations_per_scenario_in_the_report() -> None:
    chapter = factories.chapter()
    scenario, other = escalating_scenario(name="A"), factories.scenario(name="B")
    for _ in range(2):
        Escalation.objects.create(prompt=finished_prompt(scenario, chapter, timezone.now()))
    out = StringIO()

    call_command("scenario_report", "--json", stdout=out)

    rows = {row["name"]: row for row in json.loads(out.getvalue())}
    assert rows["A"]["escalated"] == 2
    assert rows["B"]["escalated"] == 0
    assert other.pk == rows["B"]["scenario_id"]


def test_it_counts_only_the_coordinators_chapters_in_the_scenario_list() -> None:
    from scheduler.coordinators.report import scenario_report
    from tests.admin.conftest import make_coordinator

    oslo, bergen = factories.chapter("Oslo"), factories.chapter("Bergen")
    scenario = escalating_scenario(name="Everyone")
    Escalation.objects.create(prompt=finished_prompt(scenario, oslo, timezone.now()))
    Escalation.objects.create(prompt=finished_prompt(scenario, bergen, timezone.now()))
    kari: User = make_coordinator("kari", oslo)

    [row] = scenario_report(kari, days=30)

    assert row.escalated == 1
