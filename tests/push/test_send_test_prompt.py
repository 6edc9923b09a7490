from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from scheduler.models import DeviceToken, PromptHistory
from tests import factories
from tests.loopback import Answer, LoopbackServer
from tests.push.conftest import FCM_PATH, SUPABASE_PATH, fcm_error

pytestmark = pytest.mark.django_db


def send_test_prompt(*args: str) -> str:
    out = StringIO()
    call_command("send_test_prompt", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_it_sends_one_test_prompt_per_active_device(supabase: LoopbackServer) -> None:
    mentor = factories.mentor(name="Kari Nordmann", tokens=2)
    DeviceToken.objects.create(peer_mentor=mentor, token="device-token-retired", is_active=False)
    tokens = sorted(mentor.device_tokens.filter(is_active=True).values_list("token", flat=True))

    output = send_test_prompt("Kari Nordmann")

    requests = supabase.requests_to(SUPABASE_PATH)
    assert sorted(r.json["device_token"] for r in requests) == tokens
    assert {r.json["peer_mentor_id"] for r in requests} == {mentor.pk}
    assert {r.json["scenario_id"] for r in requests} == {0}
    assert output.count(": delivered") == 2
    assert PromptHistory.objects.count() == 0


def test_it_finds_the_mentor_by_id(supabase: LoopbackServer) -> None:
    mentor = factories.mentor()

    send_test_prompt(str(mentor.pk))

    assert supabase.requests_to(SUPABASE_PATH)[0].json["peer_mentor_id"] == mentor.pk


def test_it_prints_masked_tokens_and_each_outcome(firebase: LoopbackServer) -> None:
    mentor = factories.mentor(tokens=0)
    ok = DeviceToken.objects.create(peer_mentor=mentor, token="device-token-good-111111")
    dead = DeviceToken.objects.create(peer_mentor=mentor, token="device-token-dead-222222")
    firebase.always(
        FCM_PATH,
        lambda r: (
            Answer(404, fcm_error(404, "UNREGISTERED"))
            if r.json["message"]["token"] == dead.token
            else Answer(200, {})
        ),
    )

    output = send_test_prompt(str(mentor.pk))

    lines = output.splitlines()
    assert lines[0] == "android …111111: delivered"
    assert lines[1].startswith("android …222222: permanent: FCM: the device token is no longer")
    assert ok.token not in output and dead.token not in output
    dead.refresh_from_db()
    assert dead.is_active  # a test only reports; dispatch runs retire tokens


def test_it_sends_a_scenarios_text_when_asked(firebase: LoopbackServer) -> None:
    mentor = factories.mentor()
    scenario = factories.scenario(title="Check in", body="How did it go?")

    send_test_prompt(str(mentor.pk), "--scenario", str(scenario.pk))

    sent = firebase.requests_to(FCM_PATH)[0].json["message"]
    assert sent["notification"] == {"title": "Check in", "body": "How did it go?"}
    assert sent["data"] == {"scenario_id": str(scenario.pk), "prompt_id": "test"}


def test_it_fails_when_no_device_accepted(supabase: LoopbackServer) -> None:
    mentor = factories.mentor()
    supabase.script(SUPABASE_PATH, Answer(503))

    with pytest.raises(CommandError, match="No device accepted"):
        send_test_prompt(str(mentor.pk))


def test_it_rejects_an_unknown_mentor(supabase: LoopbackServer) -> None:
    with pytest.raises(CommandError, match="No peer mentor with id or name 'Nobody'"):
        send_test_prompt("Nobody")


def test_it_asks_for_an_id_when_a_name_is_shared(supabase: LoopbackServer) -> None:
    factories.mentor(name="Ola")
    factories.mentor(name="Ola")

    with pytest.raises(CommandError, match="use an id"):
        send_test_prompt("Ola")


def test_it_rejects_a_mentor_without_active_devices(supabase: LoopbackServer) -> None:
    factories.mentor(tokens=0, name="Per")

    with pytest.raises(CommandError, match="has no active device"):
        send_test_prompt("Per")

    assert supabase.requests == []


def test_it_reports_a_misconfigured_backend_in_one_line(
    supabase: LoopbackServer, push_settings: Any
) -> None:
    factories.mentor(name="Liv")
    push_settings.SUPABASE_SERVICE_ROLE_KEY = ""

    with pytest.raises(CommandError, match=r"misconfigured: .*SUPABASE_SERVICE_ROLE_KEY"):
        send_test_prompt("Liv")
