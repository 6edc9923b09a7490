"""From the app to the phone and back, on PostgreSQL with a real `run_dispatch` process."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from scheduler.models import PromptHistory, PromptStatus
from tests import factories
from tests.api.conftest import App, KeySetServer
from tests.loopback import Answer
from tests.reliability.children import SUPABASE_KEY, SUPABASE_PATH, child_env, run_dispatch_process

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

DEVICE = "fcm-device-token-" + "e" * 120


def test_it_prompts_an_activity_logged_in_the_app_and_records_its_opening(
    app: App, key_server: KeySetServer, tmp_path: Path
) -> None:
    # One loopback plays the whole Supabase project: Auth's key set and the Edge Function.
    key_server.server.always(SUPABASE_PATH, Answer(200, {"ok": True}))
    scenario = factories.scenario(delay_days=0, title="Check in", body="How did it go?")
    assert app.post("/devices", {"token": DEVICE, "platform": "android"}).status_code == 201
    logged = app.post(
        "/activities",
        {
            "client_id": str(uuid.uuid4()),
            "contact_ref": "K-1",
            "kind": "first_contact",
            "occurred_at": (timezone.now() - timedelta(minutes=1)).isoformat(),
            "wellbeing_concern": True,
        },
    )
    assert logged.status_code == 201

    child = run_dispatch_process(child_env(key_server.server), tmp_path)

    assert child.process.returncode == 0, child.stderr
    assert child.summary()["dispatched"] == 1
    prompt = PromptHistory.objects.get()
    assert (prompt.status, prompt.activity_id, prompt.scenario_id) == (
        PromptStatus.DISPATCHED,
        logged.json()["id"],
        scenario.pk,
    )
    (sent,) = key_server.server.requests_to(SUPABASE_PATH)
    assert sent.header("Authorization") == f"Bearer {SUPABASE_KEY}"
    assert sent.json["device_token"] == DEVICE
    assert sent.json["prompt_id"] == prompt.pk
    assert sent.header("Idempotency-Key") == f"prompt-{prompt.pk}"

    listed = app.get("/prompts").json()["items"]
    assert [(p["id"], p["title"], p["status"]) for p in listed] == [
        (prompt.pk, "Check in", "dispatched")
    ]
    assert app.post(f"/prompts/{prompt.pk}/opened").status_code == 204
    prompt.refresh_from_db()
    assert prompt.opened_at is not None
