"""Concerns without follow-up in the admin: own chapters only, newest first, marked handled."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from scheduler.models import Escalation, EscalationStatus
from tests.admin.conftest import World, make_coordinator
from tests.escalation.concerns import escalating_scenario, finished_prompt

pytestmark = pytest.mark.django_db

NOW = timezone.now()
LIST = reverse("admin:scheduler_escalation_changelist")


def escalation(world_chapter, *, age_hours: float = 1, **fields: object) -> Escalation:
    prompt = finished_prompt(escalating_scenario(), world_chapter, NOW)
    return Escalation.objects.create(
        prompt=prompt, created_at=NOW - timedelta(hours=age_hours), **fields
    )


def test_it_lists_only_the_coordinators_chapters_open_escalations_newest_first(
    world: World, coordinator_client: Client
) -> None:
    older = escalation(world.home, age_hours=5)
    newer = escalation(world.home, age_hours=1)
    handled = escalation(world.home, status=EscalationStatus.HANDLED)
    elsewhere = escalation(world.other)

    page = coordinator_client.get(LIST)

    assert page.status_code == 200
    shown = [e.pk for e in page.context["cl"].result_list]
    assert shown == [newer.pk, older.pk]
    body = page.content.decode()
    assert elsewhere.prompt.activity.contact_ref not in body
    assert newer.prompt.activity.contact_ref in body
    everything = coordinator_client.get(LIST, {"status": "all"}).context["cl"].result_list
    assert {e.pk for e in everything} == {older.pk, newer.pk, handled.pk}
    other_url = reverse("admin:scheduler_escalation_change", args=[elsewhere.pk])
    assert coordinator_client.get(other_url).status_code == 404


def test_it_filters_by_status_scenario_and_chapter(world: World, superuser_client: Client) -> None:
    home, other = escalation(world.home), escalation(world.other)
    chapter_filter = {"prompt__peer_mentor__chapter__id__exact": world.other.pk}
    scenario_filter = {"prompt__scenario__id__exact": home.prompt.scenario_id}
    by_chapter = superuser_client.get(LIST, chapter_filter).context["cl"].result_list
    by_scenario = superuser_client.get(LIST, scenario_filter).context["cl"].result_list
    assert [e.pk for e in by_chapter] == [other.pk]
    assert [e.pk for e in by_scenario] == [home.pk]
    followed = superuser_client.get(LIST, {"status": "followed_up"}).context["cl"].result_list
    assert list(followed) == []


def test_it_shows_the_count_of_open_ones_on_the_admin_index(
    world: World, coordinator_client: Client
) -> None:
    escalation(world.home)
    escalation(world.home)
    escalation(world.home, status=EscalationStatus.HANDLED)
    escalation(world.other)

    page = coordinator_client.get(reverse("admin:index")).content.decode()

    assert "2 concerns without follow-up" in page


def test_it_marks_one_handled_with_a_note(
    world: World, coordinator: User, coordinator_client: Client
) -> None:
    row = escalation(world.home)
    url = reverse("admin:scheduler_escalation_change", args=[row.pk])

    response = coordinator_client.post(url, {"mark_handled": "on", "note": "Called the mentor."})

    assert response.status_code == 302
    row.refresh_from_db()
    assert row.status == EscalationStatus.HANDLED
    assert row.note == "Called the mentor."
    assert row.handled_by == coordinator
    assert row.handled_at is not None


def test_it_marks_selected_ones_handled_only_within_the_coordinators_chapters(
    world: World, coordinator: User, coordinator_client: Client
) -> None:
    mine, theirs = escalation(world.home), escalation(world.other)

    coordinator_client.post(
        LIST,
        {"action": "mark_handled", "_selected_action": [mine.pk, theirs.pk]},
    )

    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.status == EscalationStatus.HANDLED and mine.handled_by == coordinator
    assert theirs.status == EscalationStatus.OPEN


def test_it_shows_a_coordinator_without_email_their_escalation(world: World) -> None:
    user = make_coordinator("noemail", world.home)
    assert user.email == ""
    row = escalation(world.home)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    shown = client.get(LIST).context["cl"].result_list
    assert [e.pk for e in shown] == [row.pk]


def test_it_shows_the_list_in_norwegian(world: World) -> None:
    user = make_coordinator("norsk", world.home)
    client = Client(HTTP_ACCEPT_LANGUAGE="nb")
    client.force_login(user)
    escalation(world.home)
    assert "Ubesvarte bekymringer" in client.get(LIST).content.decode()
    assert "1 ubesvart bekymring" in client.get(reverse("admin:index")).content.decode()


def test_it_counts_escalations_in_the_scenario_list(
    world: World, coordinator_client: Client
) -> None:
    mine = escalation(world.home)
    elsewhere = Escalation.objects.create(
        prompt=finished_prompt(mine.prompt.scenario, world.other, NOW)
    )
    assert elsewhere.prompt.scenario_id == mine.prompt.scenario_id
    mine.prompt.scenario.chapter = None
    mine.prompt.scenario.save()

    page = coordinator_client.get(reverse("admin:scheduler_scenario_changelist"))

    [scenario] = page.context["cl"].result_list
    assert scenario.report_escalated == 1  # the other chapter's is not counted
    assert "escalated (30 days)" in page.content.decode().lower()
