"""Chapter scoping: another chapter's objects do not exist for a coordinator."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from scheduler.models import Chapter, DeviceToken, PeerMentor, PromptHistory
from tests import factories
from tests.admin.conftest import World


def objects_in(chapter: Chapter) -> dict[str, int]:
    mentor = factories.mentor(chapter)
    activity = factories.activity(mentor)
    scenario = factories.scenario(chapter=chapter)
    prompt = PromptHistory.objects.create(peer_mentor=mentor, scenario=scenario, activity=activity)
    return {
        "scenario": scenario.pk,
        "peermentor": mentor.pk,
        "activity": activity.pk,
        "devicetoken": mentor.device_tokens.get().pk,
        "prompthistory": prompt.pk,
    }


OBJECT_URLS = [
    (model, view)
    for model in ["scenario", "peermentor", "activity", "devicetoken", "prompthistory"]
    for view in ["change", "delete", "history"]
] + [("scenario", "preview"), ("activity", "why")]


@pytest.mark.parametrize(("model", "view"), OBJECT_URLS)
def test_it_hides_another_chapters_object(
    coordinator_client: Client, world: World, model: str, view: str
) -> None:
    theirs = objects_in(world.other)
    url = reverse(f"admin:scheduler_{model}_{view}", args=[theirs[model]])
    assert coordinator_client.get(url).status_code == 404
    assert coordinator_client.post(url, {"post": "yes"}).status_code == 404


@pytest.mark.parametrize(("model", "view"), OBJECT_URLS)
def test_it_opens_the_coordinators_own_object(
    coordinator_client: Client, world: World, model: str, view: str
) -> None:
    mine = objects_in(world.home)
    url = reverse(f"admin:scheduler_{model}_{view}", args=[mine[model]])
    expected = 403 if view == "delete" else 200  # coordinators delete nothing
    assert coordinator_client.get(url).status_code == expected


@pytest.mark.parametrize(("model", "view"), OBJECT_URLS)
def test_it_opens_every_object_for_a_superuser(
    superuser_client: Client, world: World, model: str, view: str
) -> None:
    theirs = objects_in(world.other)
    url = reverse(f"admin:scheduler_{model}_{view}", args=[theirs[model]])
    read_only_log = model == "prompthistory" and view == "delete"
    # The activity has a prompt: deleting it is refused with a pointer to withdrawing.
    refused = model == "activity" and view == "delete"
    expected = 403 if read_only_log else 302 if refused else 200
    assert superuser_client.get(url).status_code == expected


@pytest.mark.parametrize("model", ["scenario", "peermentor", "activity", "devicetoken"])
def test_it_lists_only_the_coordinators_chapter(
    coordinator_client: Client, world: World, model: str
) -> None:
    mine = objects_in(world.home)
    objects_in(world.other)
    page = coordinator_client.get(reverse(f"admin:scheduler_{model}_changelist"))
    assert [obj.pk for obj in page.context["cl"].result_list] == [mine[model]]


def test_it_keeps_a_mentor_in_the_coordinators_chapters(
    coordinator_client: Client, world: World
) -> None:
    mentor = factories.mentor(world.home, name="Kari")
    url = reverse("admin:scheduler_peermentor_change", args=[mentor.pk])
    data = {
        "name": "Kari",
        "chapter": world.other.pk,
        "is_active": "on",
        "device_tokens-TOTAL_FORMS": "0",
        "device_tokens-INITIAL_FORMS": "1",
    }
    response = coordinator_client.post(url, data)
    assert "chapter" in response.context["adminform"].form.errors
    mentor.refresh_from_db()
    assert mentor.chapter == world.home


def test_it_lets_a_coordinator_pause_a_mentor(coordinator_client: Client, world: World) -> None:
    mentor = factories.mentor(world.home, name="Kari")
    url = reverse("admin:scheduler_peermentor_change", args=[mentor.pk])
    data = {
        "name": "Kari",
        "chapter": world.home.pk,
        "is_active": "on",
        "prompts_paused_until_0": "2031-01-01",
        "prompts_paused_until_1": "12:00:00",
        "device_tokens-TOTAL_FORMS": "1",
        "device_tokens-INITIAL_FORMS": "1",
    }
    assert coordinator_client.post(url, data).status_code == 302
    mentor.refresh_from_db()
    assert mentor.prompts_paused_until is not None


def test_it_masks_device_tokens_everywhere(coordinator_client: Client, world: World) -> None:
    mentor = factories.mentor(world.home, tokens=0)
    token = DeviceToken.objects.create(peer_mentor=mentor, token="secret-token-abcdef123456")
    pages = [
        reverse("admin:scheduler_devicetoken_changelist"),
        reverse("admin:scheduler_devicetoken_change", args=[token.pk]),
        reverse("admin:scheduler_peermentor_change", args=[mentor.pk]),
    ]
    for url in pages:
        page = coordinator_client.get(url).content.decode()
        assert "secret-token" not in page
        assert "…123456" in page


def test_it_masks_the_token_for_a_superuser_too(superuser_client: Client, world: World) -> None:
    mentor = factories.mentor(world.home, tokens=0)
    token = DeviceToken.objects.create(peer_mentor=mentor, token="secret-token-abcdef123456")
    page = superuser_client.get(reverse("admin:scheduler_devicetoken_change", args=[token.pk]))
    assert "secret-token" not in page.content.decode()


def test_it_gives_coordinators_exactly_their_permissions(db: None) -> None:
    codenames = set(
        Group.objects.get(name="Coordinator").permissions.values_list("codename", flat=True)
    )
    assert codenames == {
        "view_scenario",
        "add_scenario",
        "change_scenario",
        "view_closedperiod",
        "add_closedperiod",
        "change_closedperiod",
        "delete_closedperiod",
        "view_peermentor",
        "change_peermentor",
        "view_activity",
        "view_devicetoken",
        "view_prompthistory",
        "view_dispatchrun",
        "run_dispatch_now",
        "view_escalation",
        "change_escalation",
    }


def test_it_scopes_a_coordinator_without_chapters_to_nothing(
    coordinator_client: Client, world: World, coordinator: object
) -> None:
    coordinator.coordinator.chapters.clear()  # type: ignore[attr-defined]
    objects_in(world.home)
    page = coordinator_client.get(reverse("admin:scheduler_peermentor_changelist"))
    assert list(page.context["cl"].result_list) == []
    assert PeerMentor.objects.count() == 1
