"""A withdrawn activity triggers and cancels nothing; its prompt history stays."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db.models import RestrictedError
from django.utils import timezone, translation

from scheduler.coordinators import explain
from scheduler.dispatch.pipeline import run_dispatch
from scheduler.models import Activity, PromptHistory, PromptStatus
from scheduler.rules import due_activities
from tests import factories
from tests.api.conftest import App

pytestmark = pytest.mark.django_db


def log(app: App, *, kind: str = "first_contact", days_ago: float = 3.5) -> str:
    client_id = str(uuid.uuid4())
    body = {
        "client_id": client_id,
        "contact_ref": "K-7",
        "kind": kind,
        "occurred_at": (timezone.now() - timedelta(days=days_ago)).isoformat(),
        "wellbeing_concern": False,
    }
    assert app.post("/activities", body).status_code == 201
    return client_id


def dry_run_activity_ids() -> set[int]:
    return {p.activity_id for p in run_dispatch(dry_run=True).prompts}


def test_it_finds_an_activity_logged_through_the_api_due(app: App) -> None:
    factories.scenario(delay_days=3)
    log(app)
    assert dry_run_activity_ids() == {Activity.objects.get().pk}


def test_it_never_prompts_for_a_withdrawn_activity(app: App) -> None:
    scenario = factories.scenario(delay_days=3)
    client_id = log(app)
    assert app.delete(f"/activities/{client_id}").status_code == 204
    assert dry_run_activity_ids() == set()
    assert not due_activities(scenario, timezone.now()).exists()


def test_it_lets_no_withdrawn_activity_cancel_an_earlier_one(app: App) -> None:
    factories.scenario(delay_days=3, skip_if_followed_up=True)
    first = log(app, days_ago=3.5)
    later = log(app, kind="phone_call", days_ago=1)
    assert dry_run_activity_ids() == set()  # the later call counts as a follow-up
    app.delete(f"/activities/{later}")
    assert dry_run_activity_ids() == {Activity.objects.get(client_id=first).pk}


def test_it_says_why_a_withdrawn_activity_gets_no_prompt(app: App) -> None:
    scenario = factories.scenario(delay_days=3)
    client_id = log(app)
    app.delete(f"/activities/{client_id}")
    activity = Activity.objects.get()
    with translation.override("en"):
        (verdict,) = explain.explain(activity, [scenario])
    assert verdict.state == explain.NO
    assert "withdrew" in verdict.message


def test_it_does_not_retry_a_prompt_whose_activity_was_withdrawn(app: App) -> None:
    scenario = factories.scenario(delay_days=3)
    client_id = log(app)
    activity = Activity.objects.get()
    factories.prompt(
        scenario,
        activity,
        status=PromptStatus.RETRY,
        attempts=1,
        next_attempt_at=timezone.now() - timedelta(minutes=1),
    )
    assert dry_run_activity_ids() == {activity.pk}
    app.delete(f"/activities/{client_id}")
    assert dry_run_activity_ids() == set()


def test_it_keeps_the_prompt_history_of_a_withdrawn_or_corrected_activity(app: App) -> None:
    scenario = factories.scenario(delay_days=3)
    client_id = log(app)
    prompt = factories.prompt(scenario, Activity.objects.get())
    app.patch(f"/activities/{client_id}", {"kind": "home_visit"})
    app.delete(f"/activities/{client_id}")
    assert PromptHistory.objects.filter(pk=prompt.pk).exists()


def test_it_refuses_to_delete_an_activity_that_has_prompts(app: App) -> None:
    scenario = factories.scenario(delay_days=3)
    log(app)
    activity = Activity.objects.get()
    factories.prompt(scenario, activity)
    with pytest.raises(RestrictedError):
        activity.delete()


def test_it_still_deletes_a_mentor_with_their_activities_and_prompts(app: App) -> None:
    scenario = factories.scenario(delay_days=3)
    log(app)
    factories.prompt(scenario, Activity.objects.get())
    app.mentor.delete()
    assert not Activity.objects.exists()
    assert not PromptHistory.objects.exists()
