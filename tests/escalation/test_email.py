"""Telling coordinators: one email each, their own chapters only, claimed before it is sent."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from scheduler.dispatch.pipeline import DispatchSummary, run_dispatch
from scheduler.models import Escalation, EscalationStatus, PromptStatus
from tests import factories
from tests.escalation.concerns import coordinator, escalating_scenario, finished_prompt

pytestmark = pytest.mark.django_db

NOW = timezone.now()


class BrokenEmailBackend(BaseEmailBackend):
    """An SMTP server that refuses every message."""

    def send_messages(self, email_messages: Any) -> int:
        raise ConnectionRefusedError("SMTP server down")


def escalate_once(now: datetime = NOW) -> DispatchSummary:
    return run_dispatch(now=now)


def test_it_emails_each_coordinator_of_the_mentors_chapter_once_listing_the_concerns() -> None:
    oslo, bergen = factories.chapter("Oslo"), factories.chapter("Bergen")
    scenario = escalating_scenario(name="Check in after a concern")
    oslo_prompts = [finished_prompt(scenario, oslo, NOW, wellbeing_concern=True) for _ in range(2)]
    failed = finished_prompt(scenario, oslo, NOW, status=PromptStatus.FAILED)
    bergen_prompt = finished_prompt(scenario, bergen, NOW)
    coordinator("kari", oslo)
    coordinator("ola", oslo, bergen)
    coordinator("per", bergen)
    coordinator("silent", oslo, email="")
    Escalation.objects.all().delete()
    factories.activity(failed.peer_mentor, notes="Feels very low, lives alone")

    escalate_once()

    by_address = {m.to[0]: m for m in mail.outbox}
    assert sorted(by_address) == ["kari@example.org", "ola@example.org", "per@example.org"]
    assert all(len(m.to) == 1 and not m.cc and not m.bcc for m in mail.outbox)
    kari, ola, per = (by_address[f"{n}@example.org"] for n in ("kari", "ola", "per"))
    for prompt in [*oslo_prompts, failed]:
        assert prompt.activity.contact_ref in kari.body
        assert prompt.peer_mentor.name in kari.body
        assert f"/admin/scheduler/activity/{prompt.activity_id}/why/" in kari.body
        assert prompt.activity.contact_ref not in per.body
        assert prompt.activity.contact_ref in ola.body
    assert bergen_prompt.activity.contact_ref in per.body
    assert bergen_prompt.activity.contact_ref not in kari.body
    assert "Check in after a concern" in kari.body
    assert prompt.activity.occurred_at.astimezone().date().isoformat() in kari.body
    assert "the prompt could not be sent" in kari.body  # English after the Norwegian
    assert "Feels very low" not in kari.body
    assert Escalation.objects.filter(notified_at__isnull=False).count() == 4

    mail.outbox.clear()
    escalate_once()
    assert mail.outbox == [], "an escalation was emailed twice"
    assert Escalation.objects.count() == 4


def test_it_keeps_an_escalation_for_a_coordinator_without_an_address_and_sends_none() -> None:
    chapter = factories.chapter()
    coordinator("silent", chapter, email="")
    prompt = finished_prompt(escalating_scenario(), chapter, NOW)

    escalate_once()

    assert mail.outbox == []
    escalation = Escalation.objects.get(prompt=prompt)
    assert escalation.status == EscalationStatus.OPEN
    assert escalation.notified_at is not None


def test_it_logs_a_failed_send_and_sends_it_with_the_next_run_without_stopping_dispatch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    chapter = factories.chapter()
    coordinator("kari", chapter)
    prompt = finished_prompt(escalating_scenario(), chapter, NOW)
    due = factories.activity(
        factories.mentor(chapter), occurred_at=NOW - timedelta(days=3, minutes=1)
    )

    with override_settings(EMAIL_BACKEND="tests.escalation.test_email.BrokenEmailBackend"):
        summary = escalate_once()

    assert summary.dispatched == 1, "the prompt due now was not sent"
    assert due.prompts.get().status == PromptStatus.DISPATCHED
    assert "the email to a coordinator failed" in caplog.text
    escalation = Escalation.objects.get(prompt=prompt)
    assert escalation.notified_at is None

    escalate_once()

    [message] = mail.outbox
    assert prompt.activity.contact_ref in message.body
    escalation.refresh_from_db()
    assert escalation.notified_at is not None


def test_it_never_emails_an_escalation_a_coordinator_handled_before_the_send() -> None:
    chapter = factories.chapter()
    coordinator("kari", chapter)
    prompt = finished_prompt(escalating_scenario(), chapter, NOW)
    with override_settings(EMAIL_BACKEND="tests.escalation.test_email.BrokenEmailBackend"):
        escalate_once()
    Escalation.objects.filter(prompt=prompt).update(status=EscalationStatus.HANDLED)

    escalate_once()

    assert mail.outbox == []


def test_it_prints_development_emails_on_stderr_so_json_output_stays_one_object(
    capsys: pytest.CaptureFixture[str],
) -> None:
    chapter = factories.chapter()
    coordinator("kari", chapter)
    prompt = finished_prompt(escalating_scenario(), chapter, timezone.now())
    out = StringIO()

    with override_settings(EMAIL_BACKEND="scheduler.escalation.console.EmailBackend"):
        call_command("run_dispatch", "--json", stdout=out)

    assert json.loads(out.getvalue())["dispatched"] == 0
    captured = capsys.readouterr()
    assert prompt.activity.contact_ref in captured.err
    assert prompt.activity.contact_ref not in captured.out


def test_it_escalates_only_the_run_chapters_concerns_on_a_coordinators_run_now() -> None:
    oslo, bergen = factories.chapter("Oslo"), factories.chapter("Bergen")
    scenario = escalating_scenario()
    mine = finished_prompt(scenario, oslo, NOW)
    theirs = finished_prompt(scenario, bergen, NOW)

    run_dispatch(now=NOW, chapter_ids=[oslo.pk])

    assert set(Escalation.objects.values_list("prompt_id", flat=True)) == {mine.pk}
    run_dispatch(now=NOW)
    assert set(Escalation.objects.values_list("prompt_id", flat=True)) == {mine.pk, theirs.pk}
