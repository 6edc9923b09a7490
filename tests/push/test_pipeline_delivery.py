"""The pipeline end to end through the real HTTP backends and a loopback server."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from scheduler.dispatch.pipeline import run_dispatch
from scheduler.models import (
    DeviceToken,
    DispatchRun,
    PeerMentor,
    PromptHistory,
    PromptStatus,
    Scenario,
)
from tests import factories
from tests.loopback import Answer, LoopbackServer, RecordedRequest
from tests.push.conftest import FCM_PATH, SUPABASE_KEY, SUPABASE_PATH, fcm_error

pytestmark = pytest.mark.django_db

PATHS = {"supabase": SUPABASE_PATH, "fcm": FCM_PATH}
UNAVAILABLE = {"supabase": Answer(503), "fcm": Answer(503, fcm_error(503, "UNAVAILABLE"))}


@pytest.fixture(params=["supabase", "fcm"])
def backend_name(request: pytest.FixtureRequest) -> str:
    request.getfixturevalue({"supabase": "supabase", "fcm": "firebase"}[request.param])
    return request.param


@pytest.fixture
def server(loopback: LoopbackServer) -> LoopbackServer:
    return loopback


def due_prompt(tokens: int = 1) -> tuple[PeerMentor, Scenario]:
    mentor = factories.mentor(tokens=tokens)
    factories.activity(mentor, days_ago=3)
    return mentor, factories.scenario(delay_days=3)


def sent_token(request: RecordedRequest) -> str:
    body = request.json
    return body["device_token"] if "device_token" in body else body["message"]["token"]


def later(hours: float) -> datetime:
    return timezone.now() + timedelta(hours=hours)


def test_it_delivers_a_due_prompt_with_one_request_and_one_history_row(
    backend_name: str, server: LoopbackServer
) -> None:
    mentor, scenario = due_prompt()
    token = mentor.device_tokens.get().token
    before = timezone.now()

    summary = run_dispatch()

    [request] = server.requests_to(PATHS[backend_name])
    [row] = PromptHistory.objects.all()
    assert sent_token(request) == token
    if backend_name == "supabase":
        assert request.json == {
            "prompt_id": row.pk,
            "peer_mentor_id": mentor.pk,
            "scenario_id": scenario.pk,
            "device_token": token,
        }
        assert request.header("Idempotency-Key") == f"prompt-{row.pk}"
    else:
        assert request.json["message"]["data"] == {
            "scenario_id": str(scenario.pk),
            "prompt_id": str(row.pk),
        }
        assert request.json["message"]["android"]["notification"]["tag"] == f"prompt-{row.pk}"
        assert request.json["message"]["notification"] == {
            "title": scenario.title,
            "body": scenario.body,
        }
    assert (row.peer_mentor_id, row.scenario_id) == (mentor.pk, scenario.pk)
    assert row.status == PromptStatus.DISPATCHED
    assert row.attempts == 1
    assert row.dispatched_at is not None
    assert before <= row.dispatched_at <= timezone.now()
    assert summary.dispatched == 1


def test_it_puts_the_history_row_id_in_the_fcm_message(firebase: LoopbackServer) -> None:
    due_prompt()

    run_dispatch()

    row = PromptHistory.objects.get()
    sent = firebase.requests_to(FCM_PATH)[0].json["message"]
    assert sent["data"]["prompt_id"] == str(row.pk)
    assert sent["android"]["collapse_key"] == f"prompt-{row.pk}"


def test_it_retries_across_runs_until_the_service_accepts(
    backend_name: str, server: LoopbackServer, push_settings: Any
) -> None:
    push_settings.DISPATCH_MAX_ATTEMPTS = 5
    path = PATHS[backend_name]
    due_prompt()
    server.script(path, UNAVAILABLE[backend_name], UNAVAILABLE[backend_name], Answer(200, {}))

    run_dispatch()
    row = PromptHistory.objects.get()
    assert (row.status, row.attempts) == (PromptStatus.RETRY, 1)
    assert row.next_attempt_at > timezone.now()

    run_dispatch()  # before next_attempt_at: nothing to send
    assert len(server.requests_to(path)) == 1

    run_dispatch(now=later(1))
    row.refresh_from_db()
    assert (row.status, row.attempts) == (PromptStatus.RETRY, 2)

    run_dispatch(now=later(3))
    row.refresh_from_db()
    assert (row.status, row.attempts) == (PromptStatus.DISPATCHED, 3)
    assert row.dispatched_at is not None
    assert row.last_error == ""
    assert len(server.requests_to(path)) == 3
    assert server.max_in_flight(path) == 1


def test_it_gives_up_after_the_last_attempt_with_the_last_error(
    backend_name: str, server: LoopbackServer, push_settings: Any
) -> None:
    push_settings.DISPATCH_MAX_ATTEMPTS = 3
    path = PATHS[backend_name]
    due_prompt()
    server.always(path, UNAVAILABLE[backend_name])

    for hours in (0, 1, 3, 6):
        run_dispatch(now=later(hours))

    row = PromptHistory.objects.get()
    assert (row.status, row.attempts) == (PromptStatus.FAILED, 3)
    assert "HTTP 503" in row.last_error
    assert row.dispatched_at is None
    assert len(server.requests_to(path)) == 3


def test_it_respects_retry_after_when_scheduling_the_next_attempt(
    supabase: LoopbackServer,
) -> None:
    due_prompt()
    supabase.script(SUPABASE_PATH, Answer(503, headers={"Retry-After": "7200"}))

    run_dispatch()

    row = PromptHistory.objects.get()
    assert row.next_attempt_at >= timezone.now() + timedelta(seconds=7190)


@pytest.mark.parametrize("header", ["99999999999", "inf"])
def test_it_records_a_retry_when_the_service_asks_for_an_absurd_wait(
    supabase: LoopbackServer, header: str
) -> None:
    due_prompt()
    supabase.script(SUPABASE_PATH, Answer(503, headers={"Retry-After": header}))

    summary = run_dispatch()

    row = PromptHistory.objects.get()
    assert row.status == PromptStatus.RETRY
    assert row.next_attempt_at <= timezone.now() + timedelta(days=1, minutes=1)
    assert summary.retrying == 1


def test_it_dispatches_when_one_device_accepts_and_retires_the_dead_one(
    firebase: LoopbackServer,
) -> None:
    mentor, _ = due_prompt(tokens=2)
    alive, dead = mentor.device_tokens.order_by("pk")
    gone = Answer(404, fcm_error(404, "UNREGISTERED", "Requested entity was not found."))
    firebase.always(
        FCM_PATH,
        lambda request: gone if sent_token(request) == dead.token else Answer(200, {}),
    )

    summary = run_dispatch()

    assert summary.dispatched == 1
    assert PromptHistory.objects.get().status == PromptStatus.DISPATCHED
    assert sorted(sent_token(r) for r in firebase.requests_to(FCM_PATH)) == sorted(
        [alive.token, dead.token]
    )
    dead.refresh_from_db()
    alive.refresh_from_db()
    assert not dead.is_active
    assert dead.deactivated_at is not None
    assert "UNREGISTERED" in dead.deactivation_reason
    assert dead.token not in dead.deactivation_reason
    assert alive.is_active


def test_it_fails_a_prompt_whose_only_device_is_invalid(firebase: LoopbackServer) -> None:
    mentor, _ = due_prompt()
    firebase.script(FCM_PATH, Answer(403, fcm_error(403, "SENDER_ID_MISMATCH")))

    run_dispatch()

    row = PromptHistory.objects.get()
    assert row.status == PromptStatus.FAILED
    assert "SENDER_ID_MISMATCH" in row.last_error
    assert not DeviceToken.objects.get(peer_mentor=mentor).is_active


def test_it_stops_the_run_on_a_refused_key_and_keeps_prompts_and_devices(
    push_settings: Any, supabase: LoopbackServer
) -> None:
    push_settings.DISPATCH_CONCURRENCY = 1
    mentor, _ = due_prompt()
    for _ in range(3):
        factories.activity(factories.mentor(), days_ago=3)
    supabase.script(SUPABASE_PATH, *[Answer(401, {"msg": "Invalid API key"})] * 4)

    summary = run_dispatch()

    # The first answer stops the run; at most the next wave (one slot) was already out.
    sent = supabase.requests_to(SUPABASE_PATH)
    assert 1 <= len(sent) <= 2
    assert "SUPABASE_SERVICE_ROLE_KEY" in summary.misconfigured
    rows = PromptHistory.objects.all()
    assert len(rows) == len(sent)  # the untried claims were given back
    for row in rows:
        assert (row.status, row.attempts) == (PromptStatus.RETRY, 0)
        assert "SUPABASE_SERVICE_ROLE_KEY" in row.last_error
    assert DeviceToken.objects.get(peer_mentor=mentor).is_active
    assert "misconfigured" in DispatchRun.objects.get().error


def test_it_retries_a_timed_out_send(push_settings: Any, supabase: LoopbackServer) -> None:
    push_settings.PUSH_READ_TIMEOUT_SECONDS = 0.2
    due_prompt()
    supabase.script(SUPABASE_PATH, Answer(200, delay=2))

    run_dispatch()

    row = PromptHistory.objects.get()
    assert row.status == PromptStatus.RETRY
    assert "timed out" in row.last_error


def test_it_skips_a_mentor_without_an_active_device(
    backend_name: str, server: LoopbackServer
) -> None:
    due_prompt(tokens=0)

    summary = run_dispatch()

    assert summary.skipped == 1
    assert PromptHistory.objects.get().status == PromptStatus.SKIPPED
    assert server.requests_to(PATHS[backend_name]) == []


def test_it_sends_many_prompts_concurrently_over_the_pool(
    push_settings: Any, supabase: LoopbackServer
) -> None:
    push_settings.DISPATCH_CONCURRENCY = 4
    supabase.always(SUPABASE_PATH, Answer(200, delay=0.1))
    scenario = factories.scenario(delay_days=3)
    for _ in range(12):
        factories.activity(factories.mentor(), days_ago=3)

    summary = run_dispatch()

    assert summary.dispatched == 12
    assert len(supabase.requests_to(SUPABASE_PATH)) == 12
    assert supabase.max_in_flight(SUPABASE_PATH) == 4
    assert len({r.client_port for r in supabase.requests_to(SUPABASE_PATH)}) == 4
    assert set(PromptHistory.objects.values_list("scenario_id", flat=True)) == {scenario.pk}


def test_it_keeps_no_case_changed_echo_of_the_key_or_token_in_the_history(
    supabase: LoopbackServer,
) -> None:
    mentor, _ = due_prompt()
    token = mentor.device_tokens.get().token
    echo = f"bad apikey {SUPABASE_KEY.upper()} for device {token.upper()}"
    supabase.script(SUPABASE_PATH, Answer(400, {"error": echo}))

    run_dispatch()

    row = PromptHistory.objects.get()
    assert row.status == PromptStatus.FAILED and "bad apikey" in row.last_error
    assert SUPABASE_KEY.lower() not in row.last_error.lower()
    assert token.lower() not in row.last_error.lower()
