"""A coordinator's scenario text that shows nothing on a phone is no text."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from scheduler.models import Scenario
from tests import factories
from tests.admin.conftest import World
from tests.admin.test_scenarios import ADD, form_data

ZERO_WIDTH_SPACE = "\u200b"


@pytest.mark.parametrize("field", ["title", "body"])
@pytest.mark.parametrize("blank", [ZERO_WIDTH_SPACE, "\u00a0\u200b\u3000\u2060"])
def test_it_refuses_to_enable_a_scenario_whose_text_shows_nothing(
    coordinator_client: Client, world: World, field: str, blank: str
) -> None:
    response = coordinator_client.post(ADD, form_data(world, **{field: blank}))

    assert "needs a title and a message" in response.content.decode()
    assert not Scenario.objects.exists()


def test_it_keeps_invisible_text_of_a_disabled_scenario_as_no_text(
    coordinator_client: Client, world: World
) -> None:
    data = form_data(world, is_enabled=None, title=ZERO_WIDTH_SPACE, body=f" {ZERO_WIDTH_SPACE} ")

    assert coordinator_client.post(ADD, data).status_code == 302

    assert Scenario.objects.values_list("title", "body").get() == ("", "")


@pytest.fixture
def textless(world: World) -> Scenario:
    """An enabled scenario whose message is a zero-width space, saved around the form."""
    scenario = factories.scenario(chapter=world.home)
    Scenario.objects.filter(pk=scenario.pk).update(body=ZERO_WIDTH_SPACE)
    return scenario


def test_it_lists_an_enabled_scenario_without_visible_text_as_an_invalid_rule(
    coordinator_client: Client, textless: Scenario
) -> None:
    page = coordinator_client.get(reverse("admin:scheduler_scenario_changelist"))

    assert "invalid rule: no title or message to send" in page.content.decode()


def test_it_says_so_in_norwegian(coordinator_client: Client, textless: Scenario) -> None:
    with translation.override("nb"):
        page = coordinator_client.get(
            reverse("admin:scheduler_scenario_changelist"), HTTP_ACCEPT_LANGUAGE="nb"
        )

    assert "ugyldig regel: ingen tittel eller melding å sende" in page.content.decode()


def test_it_does_not_call_a_prompt_of_such_a_scenario_due(
    coordinator_client: Client, textless: Scenario, world: World
) -> None:
    mentor = factories.mentor(world.home)
    activity = factories.activity(mentor, occurred_at=timezone.now() - timedelta(days=3))

    page = coordinator_client.get(reverse("admin:scheduler_activity_why", args=[activity.pk]))

    text = page.content.decode()
    assert "Invalid rule: no title or message to send. No prompt is sent for it." in text
    assert "Due now" not in text


def test_it_describes_the_rule_being_typed_even_before_its_text(
    coordinator_client: Client, world: World
) -> None:
    describe = reverse("admin:scheduler_scenario_describe")
    sentence = coordinator_client.get(describe, form_data(world, title="", body="")).json()

    assert sentence["sentence"].startswith("Send 3 days after a first contact")
