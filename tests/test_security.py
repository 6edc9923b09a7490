"""Deployment settings, secrets kept out of logs and output, no personal data in push payloads."""

from __future__ import annotations

import json
import logging
import os
import secrets
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from scheduler.models import Chapter, Coordinator, DispatchRun, PromptHistory, PromptStatus
from scheduler.push import locmem
from tests import factories as f
from tests.loopback import Answer, LoopbackServer, RecordedRequest
from tests.processes import manage
from tests.push.conftest import (  # noqa: F401 (fixtures shared with the push tests)
    FCM_PATH,
    SUPABASE_KEY,
    SUPABASE_PATH,
    firebase,
    loopback,
    private_key_pem,
    push_settings,
    service_account_file,
    supabase,
)

INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV")


def production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {name: os.environ[name] for name in INHERITED if name in os.environ}
    env.update(
        {
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "scheduler.example.org",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'production.sqlite3'}",
            **overrides,
        }
    )
    return {key: value for key, value in env.items() if value is not None}


def test_it_passes_the_deployment_checks_without_a_warning(tmp_path: Path) -> None:
    proc = manage(production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    assert proc.returncode == 0, proc.stderr
    assert "System check identified no issues" in proc.stdout


def test_it_lets_the_deployment_checks_catch_a_weak_secret_key(tmp_path: Path) -> None:
    proc = manage(
        production_env(tmp_path, SECRET_KEY="short"), "check", "--deploy", "--fail-level", "WARNING"
    )
    assert proc.returncode != 0
    assert "security.W009" in proc.stderr


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off(tmp_path: Path) -> None:
    env = production_env(tmp_path)
    del env["SECRET_KEY"]
    proc = manage(env, "check")
    assert proc.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off." in proc.stderr


def test_it_starts_without_a_secret_key_only_in_debug(tmp_path: Path) -> None:
    env = production_env(tmp_path, DEBUG="true")
    del env["SECRET_KEY"]
    assert manage(env, "check").returncode == 0


def echo_secrets(request: RecordedRequest) -> Answer:
    """A badly behaved service that repeats the caller's key and token in its errors."""
    token = request.json["device_token"]
    key = request.header("apikey")
    if request.json["peer_mentor_id"] % 2:
        return Answer(400, {"error": f"invalid device_token {token} (apikey {key})"})
    return Answer(503, f"upstream said: Bearer {key} / {token}")


@pytest.mark.django_db
def test_it_never_logs_or_prints_the_service_key_or_a_device_token(
    supabase: LoopbackServer,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    f.scenario()
    mentors = [f.mentor() for _ in range(4)]
    for m in mentors:
        f.activity(m, occurred_at=timezone.now() - timedelta(days=3, minutes=1))
    tokens = [t for m in mentors for t in m.device_tokens.values_list("token", flat=True)]
    supabase.always(SUPABASE_PATH, echo_secrets)
    out, err = StringIO(), StringIO()

    call_command("run_dispatch", "--verbosity", "3", stdout=out, stderr=err)
    call_command("run_dispatch", "--json", "--verbosity", "3", stdout=out, stderr=err)

    assert len(supabase.requests_to(SUPABASE_PATH)) == 4
    assert caplog.records, "nothing was logged: the test would prove nothing"
    errors = " ".join(PromptHistory.objects.values_list("last_error", flat=True))
    assert "…" in errors  # the echoed token shows up masked
    for place in (caplog.text, out.getvalue(), err.getvalue(), errors):
        assert SUPABASE_KEY not in place
        for token in tokens:
            assert token not in place


SUPABASE_FIELDS = {"prompt_id", "peer_mentor_id", "scenario_id", "device_token"}
FCM_FIELDS = {
    "message.token",
    "message.notification.title",
    "message.notification.body",
    "message.data.scenario_id",
    "message.data.prompt_id",
    "message.android.collapse_key",
    "message.android.notification.tag",
    "message.apns.headers.apns-collapse-id",
}
PERSONAL = {
    "contact_ref": "CONTACT-REF-zq81-Ingrid",
    "notes": "NOTES-zq81 worried about her sleep and her son",
    "name": "MENTOR-NAME-zq81 Kari Nordmann",
}


def field_paths(data: Any, prefix: str = "") -> set[str]:
    if not isinstance(data, dict):
        return {prefix}
    paths: set[str] = set()
    for key, value in data.items():
        paths |= field_paths(value, f"{prefix}.{key}" if prefix else key)
    return paths


def seed_personal_data() -> None:
    f.scenario(requires_wellbeing_concern=True)
    for i in range(3):
        m = f.mentor(name=f"{PERSONAL['name']} {i}")
        f.activity(
            m,
            occurred_at=timezone.now() - timedelta(days=3, minutes=1),
            contact_ref=f"{PERSONAL['contact_ref']}-{i}",
            notes=PERSONAL["notes"],
            wellbeing_concern=True,
        )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("service_fixture", "path", "allowed"),
    [("supabase", SUPABASE_PATH, SUPABASE_FIELDS), ("firebase", FCM_PATH, FCM_FIELDS)],
)
def test_it_sends_only_allowed_fields_and_no_personal_data(
    request: pytest.FixtureRequest, service_fixture: str, path: str, allowed: set[str]
) -> None:
    service: LoopbackServer = request.getfixturevalue(service_fixture)
    seed_personal_data()

    call_command("run_dispatch", stdout=StringIO(), stderr=StringIO())

    payloads = service.requests_to(path)
    assert len(payloads) == 3
    for sent in payloads:
        assert field_paths(sent.json) <= allowed, field_paths(sent.json) - allowed
        everything = sent.body.decode() + json.dumps(sent.headers) + sent.path
        for value in PERSONAL.values():
            assert value not in everything
            assert value.split()[0] not in everything
        assert "wellbeing" not in everything.lower()


# --- Staff-only actions in the admin ------------------------------------------
RUN_NOW = "admin:scheduler_dispatchrun_run_now"
PROMPT_CHANGELIST = "admin:scheduler_prompthistory_changelist"


def staff_user(chapter: Chapter, *, can_run: bool, is_staff: bool = True) -> User:
    """A coordinator of `chapter` with every scheduler permission, but `run_dispatch_now` only if asked."""
    user = User.objects.create_user(f"user-{secrets.token_hex(4)}", is_staff=is_staff)
    permissions = Permission.objects.filter(content_type__app_label="scheduler")
    if not can_run:
        permissions = permissions.exclude(codename="run_dispatch_now")
    user.user_permissions.set(permissions)
    Coordinator.objects.create(user=user).chapters.set([chapter])
    return user


def client_for(user: User | None) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    if user is not None:
        client.force_login(user)
    return client


def failed_prompt(chapter: Chapter) -> PromptHistory:
    return f.prompt(
        f.scenario(chapter=chapter),
        f.activity(f.mentor(chapter), days_ago=10),
        status=PromptStatus.FAILED,
        needs_review=True,
    )


def retry(client: Client, row: PromptHistory) -> Any:
    return client.post(
        reverse(PROMPT_CHANGELIST),
        {"action": "retry_failed", "_selected_action": [row.pk], "index": 0, "select_across": 0},
    )


@pytest.fixture
def home(db: None) -> Chapter:
    chapter = f.chapter()
    # A prompt due now, so a run that should not happen would show up in the outbox.
    f.scenario(chapter=chapter)
    f.activity(f.mentor(chapter), occurred_at=timezone.now() - timedelta(days=3, minutes=1))
    return chapter


REFUSED_USERS = ["anonymous", "not staff", "staff without the permission"]


def refused_user(kind: str, chapter: Chapter) -> User | None:
    if kind == "anonymous":
        return None
    return staff_user(chapter, can_run=kind == "not staff", is_staff=kind != "not staff")


@pytest.mark.parametrize("kind", REFUSED_USERS)
def test_it_refuses_run_now_to_a_user_without_permission(home: Chapter, kind: str) -> None:
    response = client_for(refused_user(kind, home)).post(reverse(RUN_NOW))
    assert response.status_code in (302, 403)
    if response.status_code == 302:
        assert "/login/" in response["Location"]
    assert not DispatchRun.objects.exists()
    assert locmem.outbox == []


@pytest.mark.parametrize("kind", REFUSED_USERS)
def test_it_refuses_retry_to_a_user_without_permission(home: Chapter, kind: str) -> None:
    row = failed_prompt(home)
    retry(client_for(refused_user(kind, home)), row)
    row.refresh_from_db()
    assert (row.status, row.needs_review) == (PromptStatus.FAILED, True)


def test_it_hides_the_retry_action_from_staff_without_the_permission(home: Chapter) -> None:
    failed_prompt(home)
    page = client_for(staff_user(home, can_run=False)).get(reverse(PROMPT_CHANGELIST))
    assert page.status_code == 200
    assert 'value="retry_failed"' not in page.content.decode()


def test_it_lets_staff_with_the_permission_run_and_retry(home: Chapter) -> None:
    """The control: the refusals above are about the permission, not a broken setup."""
    row = failed_prompt(home)
    client = client_for(staff_user(home, can_run=True))
    assert 'value="retry_failed"' in client.get(reverse(PROMPT_CHANGELIST)).content.decode()
    retry(client, row)
    row.refresh_from_db()
    assert row.status == PromptStatus.RETRY
    client.post(reverse(RUN_NOW))
    assert DispatchRun.objects.count() == 1
    assert len(locmem.outbox) >= 1
