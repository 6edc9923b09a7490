"""The scenario form, its live sentence, and chapter limits for coordinators."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from scheduler.models import Scenario
from tests import factories
from tests.admin.conftest import World

ADD = reverse("admin:scheduler_scenario_add")
DESCRIBE = reverse("admin:scheduler_scenario_describe")


def form_data(world: World, **overrides: Any) -> dict[str, Any]:
    data = {
        "name": "Check in",
        "is_enabled": "on",
        "chapter": world.home.pk,
        "trigger_kind": "first_contact",
        "delay_days": 3,
        "lookback_days": 7,
        "requires_wellbeing_concern": "on",
        "skip_if_followed_up": "on",
        "title": "Time to check in",
        "body": "It has been three days.",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_it_creates_a_scenario_from_plain_fields(coordinator_client: Client, world: World) -> None:
    response = coordinator_client.post(ADD, form_data(world))
    assert response.status_code == 302
    scenario = Scenario.objects.get()
    assert (scenario.chapter, scenario.delay_days, scenario.requires_wellbeing_concern) == (
        world.home,
        3,
        True,
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("delay_days", 91, "less than or equal to 90"),
        ("lookback_days", 0, "greater than or equal to 1"),
        ("lookback_days", 61, "less than or equal to 60"),
        ("title", "x" * 66, "at most 65 characters"),
        ("body", "x" * 241, "at most 240 characters"),
    ],
)
def test_it_rejects_values_out_of_range_with_a_clear_message(
    coordinator_client: Client, world: World, field: str, value: object, message: str
) -> None:
    response = coordinator_client.post(ADD, form_data(world, **{field: value}))
    assert response.status_code == 200
    assert message in str(response.context["adminform"].form.errors[field])
    assert not Scenario.objects.exists()


def test_it_refuses_to_enable_a_scenario_without_text(
    coordinator_client: Client, world: World
) -> None:
    response = coordinator_client.post(ADD, form_data(world, title="", body=""))
    assert "needs a title and a message" in response.content.decode()
    assert not Scenario.objects.exists()


def test_it_requires_a_chapter_from_a_coordinator(coordinator_client: Client, world: World) -> None:
    response = coordinator_client.post(ADD, form_data(world, chapter=None))
    assert "chapter" in response.context["adminform"].form.errors
    assert not Scenario.objects.exists()


def test_it_refuses_another_chapter_from_a_coordinator(
    coordinator_client: Client, world: World
) -> None:
    response = coordinator_client.post(ADD, form_data(world, chapter=world.other.pk))
    assert "chapter" in response.context["adminform"].form.errors
    assert not Scenario.objects.exists()


def test_it_offers_only_the_coordinators_chapters(coordinator_client: Client, world: World) -> None:
    form = coordinator_client.get(ADD).context["adminform"].form
    assert list(form.fields["chapter"].queryset) == [world.home]


def test_it_lets_a_superuser_leave_the_chapter_empty(
    superuser_client: Client, world: World
) -> None:
    superuser_client.post(ADD, form_data(world, chapter=None))
    assert Scenario.objects.get().chapter is None


def test_it_shows_chapterless_scenarios_read_only_to_a_coordinator(
    coordinator_client: Client, world: World
) -> None:
    everyone = factories.scenario(chapter=None, name="For all")
    url = reverse("admin:scheduler_scenario_change", args=[everyone.pk])
    page = coordinator_client.get(url)
    assert page.status_code == 200
    assert not page.context["has_change_permission"]
    coordinator_client.post(url, form_data(world, name="Hijacked"))
    everyone.refresh_from_db()
    assert everyone.name == "For all"


def test_it_lists_each_scenario_with_its_sentence(coordinator_client: Client, world: World) -> None:
    factories.scenario(chapter=world.home, delay_days=5, requires_wellbeing_concern=True)
    page = coordinator_client.get(reverse("admin:scheduler_scenario_changelist"))
    assert "Send 5 days after a first contact, if a wellbeing concern was flagged" in (
        page.content.decode()
    )


def test_it_shows_the_sentence_on_the_form(coordinator_client: Client, world: World) -> None:
    scenario = factories.scenario(chapter=world.home, delay_days=4)
    page = coordinator_client.get(reverse("admin:scheduler_scenario_change", args=[scenario.pk]))
    assert 'id="scenario-sentence"' in page.content.decode()
    assert "Send 4 days after a first contact" in page.content.decode()


def test_it_describes_unsaved_form_values(coordinator_client: Client, world: World) -> None:
    params = form_data(world, delay_days=0, requires_wellbeing_concern=None)
    sentence = coordinator_client.get(DESCRIBE, params).json()["sentence"]
    assert sentence == (
        "Send right after a first contact, unless a later activity has been logged for the "
        "same contact, for mentors in Oslo, at most 7 days late."
    )


def test_it_describes_in_norwegian_by_default(coordinator: Any, world: World) -> None:
    client = Client()
    client.force_login(coordinator)
    sentence = client.get(DESCRIBE, form_data(world)).json()["sentence"]
    assert sentence.startswith("Send 3 dager etter førstekontakt, hvis en bekymring for trivsel")


def test_it_does_not_name_another_chapter_in_a_description(
    coordinator_client: Client, world: World
) -> None:
    sentence = coordinator_client.get(DESCRIBE, form_data(world, chapter=world.other.pk)).json()
    assert "Bergen" not in sentence["sentence"]
    assert "chapter" in sentence["errors"]


def test_it_saves_nothing_when_describing(coordinator_client: Client, world: World) -> None:
    coordinator_client.get(DESCRIBE, form_data(world))
    assert not Scenario.objects.exists()
