"""Every admin page answers for a coordinator and for a superuser."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from scheduler.models import PromptHistory
from tests import factories
from tests.admin.conftest import World


@pytest.fixture
def objects(world: World) -> dict[str, int]:
    mentor = factories.mentor(world.home)
    activity = factories.activity(mentor)
    scenario = factories.scenario(chapter=world.home)
    prompt = PromptHistory.objects.create(peer_mentor=mentor, scenario=scenario, activity=activity)
    return {
        "peermentor": mentor.pk,
        "activity": activity.pk,
        "scenario": scenario.pk,
        "prompthistory": prompt.pk,
        "devicetoken": mentor.device_tokens.get().pk,
    }


PAGES = [
    ("admin:index", None),
    ("admin:scheduler_scenario_changelist", None),
    ("admin:scheduler_scenario_add", None),
    ("admin:scheduler_scenario_change", "scenario"),
    ("admin:scheduler_scenario_preview", "scenario"),
    ("admin:scheduler_peermentor_changelist", None),
    ("admin:scheduler_peermentor_change", "peermentor"),
    ("admin:scheduler_activity_changelist", None),
    ("admin:scheduler_activity_change", "activity"),
    ("admin:scheduler_activity_why", "activity"),
    ("admin:scheduler_devicetoken_changelist", None),
    ("admin:scheduler_devicetoken_change", "devicetoken"),
    ("admin:scheduler_prompthistory_changelist", None),
    ("admin:scheduler_prompthistory_change", "prompthistory"),
    ("admin:scheduler_dispatchrun_changelist", None),
]


@pytest.mark.parametrize(("name", "key"), PAGES)
def test_it_shows_every_page_to_a_coordinator(
    coordinator_client: Client, objects: dict[str, int], name: str, key: str | None
) -> None:
    url = reverse(name, args=[objects[key]] if key else [])
    assert coordinator_client.get(url).status_code == 200


@pytest.mark.parametrize(("name", "key"), PAGES)
def test_it_shows_every_page_to_a_superuser(
    superuser_client: Client, objects: dict[str, int], name: str, key: str | None
) -> None:
    url = reverse(name, args=[objects[key]] if key else [])
    assert superuser_client.get(url).status_code == 200
