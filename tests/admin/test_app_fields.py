"""What the mentor app adds to the admin: linked mentors, app activities, withdrawing, opened."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from scheduler.admin.activities import ActivityAdmin
from scheduler.dispatch.pipeline import run_dispatch
from scheduler.models import Activity, PeerMentor, PromptHistory, PromptStatus
from tests import factories
from tests.admin.conftest import World

MENTORS = reverse("admin:scheduler_peermentor_changelist")
ACTIVITIES = reverse("admin:scheduler_activity_changelist")
PROMPTS = reverse("admin:scheduler_prompthistory_changelist")
USER_ID = uuid.UUID("3f0c2a4e-9b1d-4c7e-8a55-0d6e2f4b1a2b")


def mentor_url(mentor: PeerMentor) -> str:
    return reverse("admin:scheduler_peermentor_change", args=[mentor.pk])


def activity_url(activity: Activity, view: str = "change") -> str:
    return reverse(f"admin:scheduler_activity_{view}", args=[activity.pk])


def mentor_form(mentor: PeerMentor, auth_user_id: str) -> dict[str, Any]:
    return {
        "name": mentor.name,
        "chapter": mentor.chapter_id,
        "is_active": "on",
        "prompts_paused_until_0": "",
        "prompts_paused_until_1": "",
        "auth_user_id": auth_user_id,
        "device_tokens-TOTAL_FORMS": "0",
        "device_tokens-INITIAL_FORMS": "0",
        "device_tokens-MIN_NUM_FORMS": "0",
        "device_tokens-MAX_NUM_FORMS": "1000",
    }


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def results(client: Client, url: str) -> list[Any]:
    page = client.get(url)
    assert page.status_code == 200
    return list(page.context["cl"].result_list)


def action_names(client: Client) -> list[str]:
    form = client.get(ACTIVITIES).context["action_form"]
    return [] if form is None else [name for name, _label in form.fields["action"].choices]


def prompted(activity: Activity, scenario: Any = None) -> PromptHistory:
    return PromptHistory.objects.create(
        peer_mentor=activity.peer_mentor,
        scenario=scenario or factories.scenario(chapter=activity.peer_mentor.chapter),
        activity=activity,
        status=PromptStatus.DISPATCHED,
        dispatched_at=timezone.now(),
    )


# Mentors linked to the app


def test_it_masks_the_app_user_id_in_the_list_but_not_on_the_form(
    coordinator_client: Client, world: World
) -> None:
    linked = factories.mentor(world.home, name="Kari Nordmann", auth_user_id=USER_ID)
    factories.mentor(world.home, name="Ola Hansen")
    page = coordinator_client.get(MENTORS).content.decode()
    assert "App linked" in page
    assert "••••1a2b" in page
    assert str(USER_ID) not in page and USER_ID.hex not in page
    form = coordinator_client.get(mentor_url(linked)).content.decode()
    assert str(USER_ID) in form
    assert "Authentication → Users" in form


def test_it_filters_mentors_by_app_link(coordinator_client: Client, world: World) -> None:
    linked = factories.mentor(world.home, auth_user_id=USER_ID)
    unlinked = factories.mentor(world.home)
    assert results(coordinator_client, MENTORS + "?app_linked=yes") == [linked]
    assert results(coordinator_client, MENTORS + "?app_linked=no") == [unlinked]


def test_it_finds_a_mentor_by_the_whole_app_user_id_only(
    coordinator_client: Client, world: World
) -> None:
    linked = factories.mentor(world.home, auth_user_id=USER_ID)
    factories.mentor(world.home)
    assert results(coordinator_client, f"{MENTORS}?q={USER_ID}") == [linked]
    assert results(coordinator_client, f"{MENTORS}?q={str(USER_ID)[:8]}") == []


def test_it_lets_a_coordinator_link_a_mentor_to_the_app(
    coordinator_client: Client, world: World
) -> None:
    mentor = factories.mentor(world.home, tokens=0)
    response = coordinator_client.post(mentor_url(mentor), mentor_form(mentor, str(USER_ID)))
    assert response.status_code == 302
    mentor.refresh_from_db()
    assert mentor.auth_user_id == USER_ID
    coordinator_client.post(mentor_url(mentor), mentor_form(mentor, ""))
    mentor.refresh_from_db()
    assert mentor.auth_user_id is None


def test_it_refuses_an_app_user_id_linked_to_another_mentor(
    coordinator_client: Client, world: World
) -> None:
    factories.mentor(world.other, auth_user_id=USER_ID)
    mentor = factories.mentor(world.home, tokens=0)
    response = coordinator_client.post(mentor_url(mentor), mentor_form(mentor, str(USER_ID)))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["auth_user_id"]
    assert errors == ["This app user id is already linked to another peer mentor."]
    mentor.refresh_from_db()
    assert mentor.auth_user_id is None


def test_it_refuses_an_app_user_id_that_is_no_uuid(
    coordinator_client: Client, world: World
) -> None:
    mentor = factories.mentor(world.home, tokens=0)
    response = coordinator_client.post(mentor_url(mentor), mentor_form(mentor, "kari@example"))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["auth_user_id"] == ["Enter a valid UUID."]


# Activities from the app, withdrawn activities


def test_it_marks_app_and_withdrawn_activities(coordinator_client: Client, world: World) -> None:
    mentor = factories.mentor(world.home)
    from_app = factories.activity(mentor, client_id=uuid.uuid4())
    withdrawn = factories.activity(mentor, withdrawn_at=timezone.now())
    typed_in = factories.activity(mentor)
    page = coordinator_client.get(ACTIVITIES).content.decode()
    assert "Logged in the app" in page and "Withdrawn" in page
    assert results(coordinator_client, ACTIVITIES + "?source=app") == [from_app]
    assert set(results(coordinator_client, ACTIVITIES + "?source=admin")) == {withdrawn, typed_in}
    assert results(coordinator_client, ACTIVITIES + "?withdrawn=yes") == [withdrawn]
    assert set(results(coordinator_client, ACTIVITIES + "?withdrawn=no")) == {from_app, typed_in}


def test_it_keeps_app_id_and_withdrawal_read_only(superuser_client: Client, world: World) -> None:
    activity = factories.activity(factories.mentor(world.home), client_id=uuid.uuid4())
    form = superuser_client.get(activity_url(activity)).context["adminform"].form
    assert "client_id" not in form.fields and "withdrawn_at" not in form.fields
    page = superuser_client.get(activity_url(activity)).content.decode()
    assert str(activity.client_id) in page


def test_it_withdraws_keeping_the_history_and_ending_the_prompts(
    superuser_client: Client, world: World
) -> None:
    mentor = factories.mentor(world.home)
    activity = factories.activity(mentor)
    history = prompted(activity)
    factories.scenario(chapter=world.home, name="Second look")
    assert activity.pk in {p.activity_id for p in run_dispatch(dry_run=True).prompts}

    response = superuser_client.post(
        ACTIVITIES, {"action": "withdraw", "_selected_action": [activity.pk]}, follow=True
    )

    activity.refresh_from_db()
    assert activity.withdrawn_at is not None
    assert PromptHistory.objects.filter(pk=history.pk, activity=activity).exists()
    assert activity.pk not in {p.activity_id for p in run_dispatch(dry_run=True).prompts}
    assert any(m.startswith("1 activity was withdrawn") for m in messages_of(response))


def test_it_reports_activities_already_withdrawn(superuser_client: Client, world: World) -> None:
    mentor = factories.mentor(world.home)
    earlier = timezone.now() - timedelta(days=1)
    old = factories.activity(mentor, withdrawn_at=earlier)
    new = factories.activity(mentor)
    response = superuser_client.post(
        ACTIVITIES, {"action": "withdraw", "_selected_action": [old.pk, new.pk]}, follow=True
    )
    old.refresh_from_db()
    assert old.withdrawn_at == earlier
    assert "1 selected activity was already withdrawn." in messages_of(response)


def test_it_withdraws_only_within_the_coordinators_chapters(
    coordinator: User, coordinator_client: Client, world: World
) -> None:
    assert "withdraw" not in action_names(coordinator_client)
    coordinator.user_permissions.add(Permission.objects.get(codename="change_activity"))
    mine = factories.activity(factories.mentor(world.home))
    theirs = factories.activity(factories.mentor(world.other))
    assert "withdraw" in action_names(coordinator_client)
    coordinator_client.post(
        ACTIVITIES, {"action": "withdraw", "_selected_action": [mine.pk, theirs.pk]}
    )
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.withdrawn_at is not None
    assert theirs.withdrawn_at is None


def test_it_refuses_to_delete_an_activity_with_history(
    superuser_client: Client, world: World
) -> None:
    activity = factories.activity(factories.mentor(world.home))
    history = prompted(activity)
    form = superuser_client.get(activity_url(activity))
    assert not form.context["has_delete_permission"]
    for response in (
        superuser_client.get(activity_url(activity, "delete")),
        superuser_client.post(activity_url(activity, "delete"), {"post": "yes"}),
    ):
        assert response.status_code == 302
        assert response["Location"] == activity_url(activity)
        assert any("cannot be deleted" in m for m in messages_of(response))
    assert PromptHistory.objects.filter(pk=history.pk).exists()


def test_it_keeps_an_activity_with_history_on_delete_selected(
    superuser_client: Client, world: World
) -> None:
    activity = factories.activity(factories.mentor(world.home))
    history = prompted(activity)
    response = superuser_client.post(
        ACTIVITIES,
        {"action": "delete_selected", "_selected_action": [activity.pk], "post": "yes"},
    )
    assert response.status_code == 200
    assert Activity.objects.filter(pk=activity.pk).exists()
    assert PromptHistory.objects.filter(pk=history.pk).exists()


def test_it_still_deletes_an_activity_without_history(
    superuser_client: Client, world: World
) -> None:
    activity = factories.activity(factories.mentor(world.home))
    response = superuser_client.post(activity_url(activity, "delete"), {"post": "yes"})
    assert response.status_code == 302
    assert not Activity.objects.filter(pk=activity.pk).exists()


@pytest.mark.parametrize("how", ["delete_view", "delete_selected"])
def test_it_survives_a_prompt_claimed_while_confirming_a_delete(
    superuser_client: Client, world: World, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    activity = factories.activity(factories.mentor(world.home))
    method = "delete_model" if how == "delete_view" else "delete_queryset"
    original = getattr(ActivityAdmin, method)

    def claimed_meanwhile(self: ActivityAdmin, request: Any, target: Any) -> None:
        prompted(activity)
        original(self, request, target)

    monkeypatch.setattr(ActivityAdmin, method, claimed_meanwhile)
    if how == "delete_view":
        response = superuser_client.post(activity_url(activity, "delete"), {"post": "yes"})
    else:
        data = {"action": "delete_selected", "_selected_action": [activity.pk], "post": "yes"}
        response = superuser_client.post(ACTIVITIES, data)
    assert response.status_code == 302
    assert any("cannot be deleted" in m for m in messages_of(response))
    assert Activity.objects.filter(pk=activity.pk).exists()


# Prompts opened in the app


def test_it_shows_and_filters_opened_prompts(coordinator_client: Client, world: World) -> None:
    opened_at = timezone.now() - timedelta(hours=2)
    opened = prompted(factories.activity(factories.mentor(world.home)))
    opened.opened_at = opened_at
    opened.save()
    unopened = prompted(factories.activity(factories.mentor(world.home)))
    page = coordinator_client.get(PROMPTS).content.decode()
    assert "Opened in the app" in page
    assert results(coordinator_client, PROMPTS + "?opened=yes") == [opened]
    assert results(coordinator_client, PROMPTS + "?opened=no") == [unopened]
    detail = coordinator_client.get(
        reverse("admin:scheduler_prompthistory_change", args=[opened.pk])
    )
    fields = [f.field["name"] for fs in detail.context["adminform"] for line in fs for f in line]
    assert "opened_at" in fields
    assert "opened_at" not in detail.context["adminform"].form.fields


def test_it_speaks_norwegian_about_the_app(coordinator: User, world: World) -> None:
    prompted(factories.activity(factories.mentor(world.home, auth_user_id=USER_ID)))
    client = Client()
    client.force_login(coordinator)
    with translation.override("nb"):
        prompts = client.get(PROMPTS).content.decode()
        activities = client.get(ACTIVITIES).content.decode()
        mentors = client.get(MENTORS).content.decode()
    assert "Åpnet i appen" in prompts and "ikke åpnet" in prompts
    assert "Registrert i appen" in activities and "Trukket tilbake" in activities
    assert "Koblet til appen" in mentors and "••••1a2b" in mentors


def test_it_marks_withdrawn_activities_on_the_mentors_page(
    coordinator_client: Client, world: World
) -> None:
    mentor = factories.mentor(world.home)
    factories.activity(mentor, kind="home_visit", withdrawn_at=timezone.now())
    page = coordinator_client.get(mentor_url(mentor)).content.decode()
    assert "home visit (withdrawn)" in page
