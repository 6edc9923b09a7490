from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scheduler.checks import check_push_backend
from tests.loopback import LoopbackServer


def test_it_accepts_a_complete_supabase_configuration(supabase: LoopbackServer) -> None:
    assert check_push_backend() == []


def test_it_accepts_a_complete_fcm_configuration(firebase: LoopbackServer) -> None:
    assert check_push_backend() == []


@pytest.mark.parametrize("setting", ["SUPABASE_URL", "SUPABASE_SERVICE_ROLE_KEY"])
def test_it_names_a_missing_supabase_setting(
    supabase: LoopbackServer, push_settings: Any, setting: str
) -> None:
    setattr(push_settings, setting, "")

    [error] = check_push_backend()

    assert error.id == "scheduler.E002"
    assert setting in error.msg


@pytest.mark.parametrize("setting", ["FCM_PROJECT_ID", "FCM_CREDENTIALS_FILE"])
def test_it_names_a_missing_fcm_setting(
    firebase: LoopbackServer, push_settings: Any, setting: str
) -> None:
    setattr(push_settings, setting, "")

    [error] = check_push_backend()

    assert error.id == "scheduler.E002"
    assert setting in error.msg


def test_it_checks_a_backend_chosen_by_dotted_path(
    supabase: LoopbackServer, push_settings: Any
) -> None:
    push_settings.PUSH_BACKEND = "scheduler.push.supabase.SupabaseBackend"
    push_settings.SUPABASE_URL = ""

    assert [e.id for e in check_push_backend()] == ["scheduler.E002"]


def test_it_reports_a_credentials_file_that_does_not_exist(
    firebase: LoopbackServer, push_settings: Any, tmp_path: Path
) -> None:
    push_settings.FCM_CREDENTIALS_FILE = str(tmp_path / "missing.json")

    [error] = check_push_backend()

    assert error.id == "scheduler.E003"
    assert "missing.json" in error.msg


@pytest.mark.parametrize(
    "content",
    [
        "not json at all",
        json.dumps({"project_info": {"project_id": "x"}, "client": []}),  # google-services.json
        json.dumps({"type": "service_account", "client_email": "a@b.c"}),  # no key
        json.dumps(
            {
                "type": "service_account",
                "client_email": "a@b.c",
                "token_uri": "https://oauth2.googleapis.com/token",
                "private_key": "-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----\n",
            }
        ),
    ],
    ids=["not-json", "google-services-json", "missing-fields", "broken-key"],
)
def test_it_reports_a_file_that_is_not_a_service_account_key(
    firebase: LoopbackServer, push_settings: Any, tmp_path: Path, content: str
) -> None:
    path = tmp_path / "key.json"
    path.write_text(content)
    push_settings.FCM_CREDENTIALS_FILE = str(path)

    [error] = check_push_backend()

    assert error.id == "scheduler.E004"
    assert "FCM_CREDENTIALS_FILE" in error.msg


def test_it_reports_a_supabase_url_without_a_scheme(
    supabase: LoopbackServer, push_settings: Any
) -> None:
    push_settings.SUPABASE_URL = "abcd.supabase.co"

    assert [e.id for e in check_push_backend()] == ["scheduler.E005"]


@pytest.mark.parametrize(
    ("service_fixture", "setting", "url"),
    [
        ("supabase", "SUPABASE_URL", "http://abcd.supabase.co"),
        ("firebase", "FCM_API_URL", "http://fcm.googleapis.com"),
    ],
)
def test_it_reports_a_plain_http_url_to_another_machine(
    request: pytest.FixtureRequest, push_settings: Any, service_fixture: str, setting: str, url: str
) -> None:
    request.getfixturevalue(service_fixture)
    setattr(push_settings, setting, url)

    [error] = check_push_backend()

    assert error.id == "scheduler.E005"
    assert setting in error.msg
    assert "https://" in error.msg


def test_it_leaves_the_console_backend_alone(push_settings: Any) -> None:
    push_settings.PUSH_BACKEND = "console"
    push_settings.FCM_CREDENTIALS_FILE = "/nowhere.json"

    assert check_push_backend() == []
