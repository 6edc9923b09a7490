"""The Supabase backend reads the Edge Function's answers as docs/design.md's table says.

The function's own tests provoke every row of the same table
(supabase/functions/dispatch-scenario-prompt/tests/contract_test.ts).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scheduler.dispatch.pipeline import run_dispatch
from scheduler.models import DeviceToken, PromptHistory, PromptStatus
from scheduler.push import Delivery, SendOutcome, fcm
from scheduler.push.supabase import SupabaseBackend
from tests import factories
from tests.loopback import Answer, LoopbackServer
from tests.push.conftest import SUPABASE_PATH, fcm_error
from tests.push.helpers import message

DESIGN = Path(__file__).resolve().parents[2] / "docs" / "design.md"


@dataclass(frozen=True)
class Row:
    status: int
    body: dict[str, str]
    retry_after: int | None
    scheduler: str


def documented_answers() -> list[Row]:
    lines = DESIGN.read_text(encoding="utf-8").splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| Status | Body |"))
    rows = []
    for line in lines[header + 2 :]:
        if not line.startswith("|"):
            break
        status, body, retry_after, _, scheduler = (c.strip() for c in line.split("|")[1:-1])
        number = re.search(r"\d+", retry_after)
        rows.append(
            Row(
                int(status.strip("`")),
                json.loads(body.strip("`")),
                int(number.group()) if number else None,
                scheduler,
            )
        )
    return rows


ROWS = documented_answers()
EXPECTED = {
    "dispatched": (Delivery.DELIVERED, False),
    "failed": (Delivery.PERMANENT, False),
    "failed; token deactivated": (Delivery.PERMANENT, True),
    "retry": (Delivery.TRANSIENT, False),
    "stops the run": (Delivery.MISCONFIGURED, False),
}


def send_one(server: LoopbackServer, answer: Answer) -> SendOutcome:
    server.script(SUPABASE_PATH, answer)
    with SupabaseBackend() as backend:
        return backend.send(message())


def test_it_knows_every_scheduler_reading_the_table_uses() -> None:
    assert {row.scheduler for row in ROWS} <= set(EXPECTED)
    assert {row.status for row in ROWS} >= {200, 400, 401, 409, 410, 422, 429, 500, 502, 503}


@pytest.mark.parametrize("row", ROWS, ids=[str(row.status) for row in ROWS])
def test_it_reads_each_documented_answer_as_the_table_says(
    supabase: LoopbackServer, row: Row
) -> None:
    headers = {"Retry-After": str(row.retry_after)} if row.retry_after else {}

    outcome = send_one(supabase, Answer(row.status, row.body, headers))

    assert (outcome.delivery, outcome.token_invalid) == EXPECTED[row.scheduler]
    if row.retry_after:
        assert outcome.retry_after == row.retry_after


FCM_DEAD_TOKENS = {
    "UNREGISTERED": Answer(404, fcm_error(404, "UNREGISTERED", "Requested entity was not found.")),
    "SENDER_ID_MISMATCH": Answer(403, fcm_error(403, "SENDER_ID_MISMATCH", "SenderId mismatch")),
    "INVALID_ARGUMENT": Answer(
        400,
        fcm_error(
            400,
            "INVALID_ARGUMENT",
            "The registration token is not a valid FCM registration token",
        ),
    ),
}
# What the function answers for each (its FcmError summary in "detail").
FUNCTION_DEAD_TOKENS = {
    "UNREGISTERED": "HTTP 404 UNREGISTERED: Requested entity was not found.",
    "SENDER_ID_MISMATCH": "HTTP 403 SENDER_ID_MISMATCH: SenderId mismatch",
    "INVALID_ARGUMENT": "HTTP 400 INVALID_ARGUMENT: The registration token is not a valid "
    "FCM registration token",
}


@pytest.mark.parametrize("code", FCM_DEAD_TOKENS)
def test_it_gives_a_dead_token_the_reason_the_fcm_backend_gives(
    supabase: LoopbackServer, code: str
) -> None:
    through_fcm = FCM_DEAD_TOKENS[code]
    body = {"error": "unregistered", "fcm_error": code, "detail": FUNCTION_DEAD_TOKENS[code]}

    outcome = send_one(supabase, Answer(410, body))

    direct = fcm.classify(through_fcm.status, None, json.dumps(through_fcm.body).encode())
    assert outcome == direct
    assert outcome.token_invalid


def test_it_leaves_the_token_alone_on_a_410_that_is_not_unregistered(
    supabase: LoopbackServer,
) -> None:
    outcome = send_one(supabase, Answer(410, {"error": "gone"}))

    assert outcome.delivery is Delivery.PERMANENT
    assert not outcome.token_invalid


def test_it_retries_a_500_that_is_not_a_misconfiguration(supabase: LoopbackServer) -> None:
    outcome = send_one(supabase, Answer(500, {"error": "internal error"}))

    assert outcome.delivery is Delivery.TRANSIENT


def test_it_names_what_the_function_found_misconfigured(supabase: LoopbackServer) -> None:
    detail = "Google refused the service account (HTTP 400: invalid_grant)"

    outcome = send_one(supabase, Answer(500, {"error": "misconfigured", "detail": detail}))

    assert outcome.delivery is Delivery.MISCONFIGURED
    assert detail in outcome.error
    assert "Edge Function" in outcome.error


# --- what the answers do to a run -----------------------------------------
def due_prompt() -> DeviceToken:
    mentor = factories.mentor(tokens=1)
    factories.activity(mentor, days_ago=3)
    factories.scenario(delay_days=3)
    return mentor.device_tokens.get()


@pytest.mark.django_db
def test_it_deactivates_the_token_the_function_calls_dead(supabase: LoopbackServer) -> None:
    device = due_prompt()
    body = {"error": "unregistered", "fcm_error": "UNREGISTERED", "detail": "HTTP 404"}
    supabase.script(SUPABASE_PATH, Answer(410, body))

    run_dispatch()

    device.refresh_from_db()
    assert not device.is_active
    assert device.deactivated_at is not None
    assert (
        device.deactivation_reason
        == "FCM: the device token is no longer registered (UNREGISTERED)."
    )
    assert PromptHistory.objects.get().status == PromptStatus.FAILED


@pytest.mark.django_db
def test_it_fails_a_prompt_whose_payload_fcm_refused_and_keeps_the_token(
    supabase: LoopbackServer,
) -> None:
    device = due_prompt()
    supabase.script(SUPABASE_PATH, Answer(422, {"error": "FCM rejected the message (HTTP 400)"}))

    run_dispatch()

    row = PromptHistory.objects.get()
    assert row.status == PromptStatus.FAILED
    assert "FCM rejected the message" in row.last_error
    device.refresh_from_db()
    assert device.is_active


@pytest.mark.django_db
@pytest.mark.parametrize("status", [409, 429, 502, 503])
def test_it_retries_a_prompt_the_function_could_not_send_yet(
    supabase: LoopbackServer, status: int
) -> None:
    device = due_prompt()
    supabase.script(SUPABASE_PATH, Answer(status, {"error": "later"}))

    summary = run_dispatch()

    assert summary.retrying == 1
    assert PromptHistory.objects.get().status == PromptStatus.RETRY
    device.refresh_from_db()
    assert device.is_active


@pytest.mark.django_db
def test_it_stops_the_run_when_the_function_is_misconfigured(
    push_settings: Any, supabase: LoopbackServer
) -> None:
    push_settings.DISPATCH_CONCURRENCY = 1
    for _ in range(3):
        due_prompt()
    detail = "FCM_SERVICE_ACCOUNT is not set"
    supabase.always(SUPABASE_PATH, Answer(500, {"error": "misconfigured", "detail": detail}))

    summary = run_dispatch()

    assert detail in summary.misconfigured
    assert len(supabase.requests_to(SUPABASE_PATH)) < 3
    for row in PromptHistory.objects.all():
        assert (row.status, row.attempts) == (PromptStatus.RETRY, 0)
