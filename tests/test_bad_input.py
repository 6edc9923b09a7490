"""Bad input is refused with a message at the model/form level and never crashes a run."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.forms import modelform_factory
from django.utils import timezone, translation

from scheduler.coordinators.forms import ScenarioForm
from scheduler.dispatch.pipeline import run_dispatch
from scheduler.models import (
    BODY_MAX_LENGTH,
    DEVICE_TOKEN_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Activity,
    DeviceToken,
    PeerMentor,
    PromptHistory,
    Scenario,
)
from tests import factories as f

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.get_fixed_timezone(60))


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    with translation.override("en"):
        yield


def errors_of(instance: object) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        instance.full_clean()  # type: ignore[attr-defined]
    return caught.value.message_dict


def valid_scenario(**fields: object) -> Scenario:
    defaults: dict[str, object] = {
        "name": "Check in",
        "is_enabled": True,
        "trigger_kind": "first_contact",
        "delay_days": 3,
        "lookback_days": 7,
        "title": "Time to check in",
        "body": "A few days have passed.",
    }
    return Scenario(**{**defaults, **fields})


def scenario_form_data(**fields: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "Check in",
        "is_enabled": "on",
        "trigger_kind": "first_contact",
        "delay_days": "3",
        "lookback_days": "7",
        "title": "Time to check in",
        "body": "A few days have passed.",
    }
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


def test_it_accepts_a_valid_scenario() -> None:
    valid_scenario().full_clean()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("delay_days", -1),
        ("delay_days", 91),
        ("lookback_days", 0),
        ("lookback_days", 61),
    ],
)
def test_it_rejects_scenario_numbers_out_of_range(field: str, value: int) -> None:
    assert field in errors_of(valid_scenario(**{field: value}))


def test_it_rejects_an_enabled_scenario_without_a_message() -> None:
    messages = errors_of(valid_scenario(title="  ", body=""))
    assert "needs a title and a message" in " ".join(messages["__all__"])


def test_it_allows_a_disabled_draft_without_a_message() -> None:
    valid_scenario(is_enabled=False, title="", body="").full_clean()


@pytest.mark.parametrize(
    ("field", "limit"), [("title", TITLE_MAX_LENGTH), ("body", BODY_MAX_LENGTH), ("name", 120)]
)
def test_it_rejects_oversized_scenario_texts(field: str, limit: int) -> None:
    messages = errors_of(valid_scenario(**{field: "x" * (limit + 1)}))
    assert f"at most {limit} characters" in messages[field][0]


def test_it_rejects_an_empty_scenario_name() -> None:
    assert "name" in errors_of(valid_scenario(name=""))


def test_it_rejects_an_unknown_trigger_kind() -> None:
    messages = errors_of(valid_scenario(trigger_kind="carrier_pigeon"))
    assert "is not a valid choice" in messages["trigger_kind"][0]


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("delay_days", "-3", "greater than or equal to 0"),
        ("delay_days", "1000", "less than or equal to 90"),
        ("lookback_days", "0", "greater than or equal to 1"),
        ("delay_days", "three", "whole number"),
        ("trigger_kind", "carrier_pigeon", "valid choice"),
        ("title", "x" * (TITLE_MAX_LENGTH + 1), "at most 65 characters"),
    ],
)
def test_it_shows_the_coordinator_why_a_scenario_form_is_refused(
    field: str, value: str, words: str
) -> None:
    form = ScenarioForm(data=scenario_form_data(**{field: value}))
    assert not form.is_valid()
    assert words in " ".join(form.errors[field])


def test_it_refuses_to_enable_a_scenario_form_without_a_message() -> None:
    form = ScenarioForm(data=scenario_form_data(title="", body=""))
    assert not form.is_valid()
    assert "needs a title and a message" in " ".join(form.non_field_errors())


def valid_activity(**fields: object) -> Activity:
    defaults: dict[str, object] = {
        "peer_mentor": f.mentor(),
        "contact_ref": "C-1",
        "kind": "first_contact",
        "occurred_at": NOW,
    }
    return Activity(**{**defaults, **fields})


def test_it_accepts_a_valid_activity() -> None:
    valid_activity().full_clean()


def test_it_rejects_an_unknown_activity_kind() -> None:
    assert "is not a valid choice" in errors_of(valid_activity(kind="séance"))["kind"][0]


def test_it_rejects_a_naive_activity_time_with_a_clear_message() -> None:
    messages = errors_of(valid_activity(occurred_at=datetime(2026, 11, 28, 12, 0)))
    assert "time zone" in messages["occurred_at"][0]


@pytest.mark.parametrize("contact_ref", ["", "x" * 65])
def test_it_rejects_an_empty_or_oversized_contact_ref(contact_ref: str) -> None:
    assert "contact_ref" in errors_of(valid_activity(contact_ref=contact_ref))


def test_it_rejects_a_naive_pause_with_a_clear_message() -> None:
    mentor = PeerMentor(
        name="A", chapter=f.chapter(), prompts_paused_until=datetime(2026, 12, 1, 8, 0)
    )
    assert "time zone" in errors_of(mentor)["prompts_paused_until"][0]


def test_it_gives_a_naive_form_time_the_current_time_zone() -> None:
    form_class = modelform_factory(
        Activity, fields=["peer_mentor", "contact_ref", "kind", "occurred_at"]
    )
    form = form_class(
        data={
            "peer_mentor": f.mentor().pk,
            "contact_ref": "C-1",
            "kind": "first_contact",
            "occurred_at": "2026-11-28 12:00",
        }
    )
    assert form.is_valid(), form.errors
    assert timezone.is_aware(form.cleaned_data["occurred_at"])


@pytest.mark.parametrize(
    ("token", "words"),
    [
        ("", "cannot be blank"),
        ("short", "at least 8 characters"),
        ("x" * (DEVICE_TOKEN_MAX_LENGTH + 1), "at most 2048 characters"),
        ("x" * 2800, "at most 2048 characters"),
        ("tøken-with-non-ascii", "plain ASCII"),
        ("        ", "spaces or control characters"),
        ("abc def ghi", "spaces or control characters"),
        ("abcdefgh\x00", "spaces or control characters"),
    ],
)
def test_it_rejects_a_bad_device_token(token: str, words: str) -> None:
    device = DeviceToken(peer_mentor=f.mentor(tokens=0), token=token)
    assert words in " ".join(errors_of(device)["token"])


def test_it_accepts_a_realistic_device_token() -> None:
    token = "fcm:APA91bH" + "x" * 140
    DeviceToken(peer_mentor=f.mentor(tokens=0), token=token).full_clean()


@pytest.mark.postgres
def test_it_stores_the_longest_valid_token_in_the_unique_index() -> None:
    """A token that passes validation also fits PostgreSQL's b-tree row limit."""
    token = "~" * DEVICE_TOKEN_MAX_LENGTH
    device = DeviceToken(peer_mentor=f.mentor(tokens=0), token=token)
    device.full_clean()
    device.save()
    assert DeviceToken.objects.get(token=token).pk == device.pk


def test_it_runs_to_the_end_over_rows_that_skipped_validation() -> None:
    """Rows written by code that never called full_clean cost nothing worse than a skip."""
    s = f.scenario(delay_days=0, lookback_days=1)
    good = f.mentor()
    f.activity(good, occurred_at=NOW - timedelta(hours=1))
    odd = f.mentor(tokens=0)
    DeviceToken.objects.create(peer_mentor=odd, token="t")
    f.activity(odd, contact_ref="", kind="séance", occurred_at=NOW)
    f.activity(odd, contact_ref="", occurred_at=NOW + timedelta(days=9))
    f.scenario(name="", title="", body="", trigger_kind="séance")

    summary = run_dispatch(now=NOW)

    assert summary.dispatched == 1
    assert PromptHistory.objects.get().scenario_id == s.pk
