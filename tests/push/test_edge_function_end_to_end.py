"""run_dispatch with PUSH_BACKEND=supabase -> the Edge Function under `deno serve` -> a
loopback FCM and OAuth server, on PostgreSQL (the function reads the scheduler's tables)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from scheduler.models import DeviceToken, PromptHistory, PromptStatus
from scheduler.push import PushMessage, fcm
from tests import factories
from tests.loopback import Answer, LoopbackServer, RecordedRequest, service_account_info
from tests.push.conftest import FCM_PATH, fcm_error
from tests.push.edge_function import ServedFunction, database_url, function_table, served_function

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SECRET_KEY = "sb_secret_endToEndKey_0123456789abcdef"
DEAD_TOKEN = "device-token-uninstalled-000000"


def fcm_answer(request: RecordedRequest) -> Answer:
    message = request.json["message"]
    if message["token"] == DEAD_TOKEN:
        return Answer(404, fcm_error(404, "UNREGISTERED", "Requested entity was not found."))
    return Answer(
        200, {"name": f"projects/loopback-project/messages/{message['data']['prompt_id']}"}
    )


@pytest.fixture
def edge_function(
    push_settings: Any, loopback: LoopbackServer, private_key_pem: bytes, tmp_path: Path
) -> Iterator[ServedFunction]:
    loopback.serve_oauth_tokens()
    loopback.always(FCM_PATH, fcm_answer)
    env = {
        "SUPABASE_URL": "http://127.0.0.1:54321",
        "SUPABASE_SECRET_KEYS": json.dumps({"default": SECRET_KEY}),
        "SUPABASE_DB_URL": database_url(),
        "FCM_SERVICE_ACCOUNT": json.dumps(service_account_info(loopback, private_key_pem)),
        "FCM_API_URL": loopback.url,
    }
    with function_table(), served_function(env, tmp_path) as served:
        push_settings.PUSH_BACKEND = "supabase"
        push_settings.SUPABASE_URL = served.url
        push_settings.SUPABASE_SECRET_KEY = SECRET_KEY
        push_settings.SUPABASE_SERVICE_ROLE_KEY = ""
        yield served


def run_dispatch() -> dict[str, Any]:
    out = StringIO()
    call_command("run_dispatch", "--json", stdout=out, stderr=StringIO())
    return json.loads(out.getvalue())


def due(token: str) -> DeviceToken:
    """A mentor with one device and an activity that every 3-day scenario prompts for."""
    mentor = factories.mentor(tokens=0)
    factories.activity(mentor, days_ago=3)
    return DeviceToken.objects.create(peer_mentor=mentor, token=token)


def fcm_messages(loopback: LoopbackServer) -> list[dict[str, Any]]:
    return [r.json["message"] for r in loopback.requests_to(FCM_PATH)]


def test_it_sends_each_prompt_once_with_its_scenario_text_and_retires_a_dead_token(
    edge_function: ServedFunction, loopback: LoopbackServer
) -> None:
    factories.scenario(delay_days=3, title="Time to check in", body="Three days on.")
    factories.scenario(delay_days=3, title="A second scenario", body="Its own text.")
    alive = [due(f"device-token-alive-{n}00000") for n in range(2)]
    dead = due(DEAD_TOKEN)

    summary = run_dispatch()

    prompts = PromptHistory.objects.select_related("scenario")
    assert (summary["dispatched"], summary["failed"]) == (4, 2)
    messages = fcm_messages(loopback)
    assert len(messages) == prompts.count() == 6
    for prompt in prompts:
        [message] = [m for m in messages if m["data"]["prompt_id"] == str(prompt.pk)]
        sent = PushMessage(
            prompt_id=prompt.pk,
            peer_mentor_id=prompt.peer_mentor_id,
            scenario_id=prompt.scenario_id,
            device_token=message["token"],
            title=prompt.scenario.title,
            body=prompt.scenario.body,
        )
        assert {"message": message} == fcm.build_message(sent)
    dead.refresh_from_db()
    assert not dead.is_active
    assert (
        dead.deactivation_reason == "FCM: the device token is no longer registered (UNREGISTERED)."
    )
    assert all(DeviceToken.objects.get(pk=d.pk).is_active for d in alive)
    assert set(prompts.filter(peer_mentor=dead.peer_mentor).values_list("status", flat=True)) == {
        PromptStatus.FAILED
    }


def test_it_reaches_fcm_once_when_a_lost_answer_makes_the_scheduler_send_again(
    edge_function: ServedFunction, loopback: LoopbackServer, push_settings: Any
) -> None:
    factories.scenario(delay_days=3)
    due("device-token-slow-answer-1")
    # FCM takes longer than the scheduler waits: the function delivers, the scheduler
    # hears nothing and records a retry.
    push_settings.PUSH_READ_TIMEOUT_SECONDS = 1.0
    loopback.script(
        FCM_PATH, Answer(200, {"name": "projects/loopback-project/messages/1"}, delay=2)
    )

    first = run_dispatch()
    assert first["retrying"] == 1
    assert wait_for_delivered_entry()
    PromptHistory.objects.update(next_attempt_at=timezone.now())
    second = run_dispatch()

    assert second["dispatched"] == 1
    assert PromptHistory.objects.get().status == PromptStatus.DISPATCHED
    assert len(loopback.requests_to(FCM_PATH)) == 1


def wait_for_delivered_entry(timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM dispatch_idempotency WHERE status = 'delivered'")
            if cursor.fetchone()[0]:
                return True
        time.sleep(0.05)
    return False


def test_it_stops_the_run_with_one_line_when_the_key_is_wrong(
    edge_function: ServedFunction, loopback: LoopbackServer, push_settings: Any
) -> None:
    factories.scenario(delay_days=3)
    device = due("device-token-never-sent-1")
    push_settings.SUPABASE_SECRET_KEY = "sb_secret_notTheProjectsKey_000000"

    with pytest.raises(CommandError) as stopped:
        run_dispatch()

    reason = str(stopped.value)
    assert "\n" not in reason
    assert reason.startswith("Push backend misconfigured: Supabase refused the request (HTTP 401)")
    assert "check SUPABASE_SECRET_KEY." in reason
    assert "sb_secret_notTheProjectsKey" not in reason
    assert loopback.requests_to(FCM_PATH) == []
    row = PromptHistory.objects.get()
    assert (row.status, row.attempts) == (PromptStatus.RETRY, 0)
    device.refresh_from_db()
    assert device.is_active


def test_it_sends_a_test_prompt_through_the_function_every_time(
    edge_function: ServedFunction, loopback: LoopbackServer
) -> None:
    mentor = factories.mentor(name="Kari Nordmann", tokens=1)

    for _ in range(2):
        call_command("send_test_prompt", str(mentor.pk), stdout=StringIO(), stderr=StringIO())

    messages = fcm_messages(loopback)
    assert len(messages) == 2
    assert messages[0]["notification"]["title"] == "Testvarsel"
    assert messages[0]["data"] == {"scenario_id": "0", "prompt_id": "test"}
    assert messages[0]["token"] == mentor.device_tokens.get().token
