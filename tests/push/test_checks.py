from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.checks import CheckMessage, Error
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from scheduler.checks import (
    POSITIVE_SECONDS,
    WHOLE_NUMBERS_FROM_ONE,
    check_api_key_set_url,
    check_dispatch_settings,
    check_push_backend,
)
from scheduler.push import BasePushBackend
from scheduler.push.console import ConsoleBackend
from scheduler.push.fcm import FcmBackend
from scheduler.push.supabase import SupabaseBackend
from tests.loopback import LoopbackServer


def test_it_accepts_a_complete_supabase_configuration(supabase: LoopbackServer) -> None:
    assert check_push_backend() == []


def test_it_accepts_a_complete_fcm_configuration(firebase: LoopbackServer) -> None:
    assert check_push_backend() == []


@pytest.mark.parametrize("setting", ["SUPABASE_URL", "SUPABASE_FUNCTION_NAME"])
def test_it_names_a_missing_supabase_setting(
    supabase: LoopbackServer, push_settings: Any, setting: str
) -> None:
    setattr(push_settings, setting, "")

    [error] = check_push_backend()

    assert error.id == "scheduler.E002"
    assert setting in error.msg


def test_it_requires_a_secret_key_or_the_legacy_key(
    supabase: LoopbackServer, push_settings: Any
) -> None:
    push_settings.SUPABASE_SECRET_KEY = ""
    push_settings.SUPABASE_SERVICE_ROLE_KEY = " "

    [error] = check_push_backend()

    assert error.id == "scheduler.E002"
    assert "SUPABASE_SECRET_KEY" in error.msg
    assert "SUPABASE_SERVICE_ROLE_KEY" in error.msg


@pytest.mark.parametrize(
    ("secret_key", "service_role_key"),
    [("sb_secret_new", ""), ("", "eyJhbGciOiJIUzI1NiJ9.legacy.jwt"), ("sb_secret_new", "eyJ.old")],
)
def test_it_accepts_either_key(
    supabase: LoopbackServer, push_settings: Any, secret_key: str, service_role_key: str
) -> None:
    push_settings.SUPABASE_SECRET_KEY = secret_key
    push_settings.SUPABASE_SERVICE_ROLE_KEY = service_role_key

    assert check_push_backend() == []


def test_it_warns_of_a_secret_key_in_the_legacy_setting(
    supabase: LoopbackServer, push_settings: Any
) -> None:
    push_settings.SUPABASE_SECRET_KEY = ""
    push_settings.SUPABASE_SERVICE_ROLE_KEY = "sb_secret_put_in_the_old_place"

    [warning] = check_push_backend()

    assert warning.id == "scheduler.W001"
    assert not warning.is_serious()
    assert "SUPABASE_SECRET_KEY" in (warning.hint or "")


def test_it_still_checks_the_url_beside_that_warning(
    supabase: LoopbackServer, push_settings: Any
) -> None:
    push_settings.SUPABASE_SECRET_KEY = ""
    push_settings.SUPABASE_SERVICE_ROLE_KEY = "sb_secret_put_in_the_old_place"
    push_settings.SUPABASE_URL = "abcd.supabase.co"

    assert [m.id for m in check_push_backend()] == ["scheduler.W001", "scheduler.E005"]


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


@pytest.mark.parametrize("host", ["127.0.0.2", "localhost", "[::1]"])
def test_it_accepts_plain_http_to_this_machine(
    supabase: LoopbackServer, push_settings: Any, host: str
) -> None:
    push_settings.SUPABASE_URL = f"http://{host}:54321"

    assert check_push_backend() == []


def test_it_accepts_plain_http_anywhere_with_debug_on(
    supabase: LoopbackServer, push_settings: Any
) -> None:
    push_settings.DEBUG = True
    push_settings.SUPABASE_URL = "http://supabase.dev.internal:54321"

    assert check_push_backend() == []


def test_it_says_exactly_when_plain_http_is_accepted(
    supabase: LoopbackServer, push_settings: Any
) -> None:
    push_settings.SUPABASE_URL = "http://abcd.supabase.co"

    [error] = check_push_backend()

    assert "must start with https://" in error.msg
    assert "plain http:// only with DEBUG on or for this machine" in error.msg


class ComplainingBackend(BasePushBackend):
    @classmethod
    def check(cls) -> list[CheckMessage]:
        return [Error("complaining backend says no", id="tests.E001")]


def test_it_asks_the_selected_backend_class_for_its_checks(push_settings: Any) -> None:
    push_settings.PUSH_BACKEND = f"{__name__}.ComplainingBackend"

    assert [e.id for e in check_push_backend()] == ["tests.E001"]


@pytest.mark.parametrize(
    ("backend", "required"),
    [
        # Its keys are one of two, checked on their own (below).
        (SupabaseBackend, {"SUPABASE_URL", "SUPABASE_FUNCTION_NAME"}),
        (FcmBackend, {"FCM_PROJECT_ID", "FCM_CREDENTIALS_FILE", "FCM_API_URL"}),
        (ConsoleBackend, set()),
    ],
)
def test_it_names_every_required_setting_once_on_the_backend_class(
    push_settings: Any, backend: type[BasePushBackend], required: set[str]
) -> None:
    for name in required:
        setattr(push_settings, name, "")

    assert set(backend.required_settings) == required
    assert {e.id for e in backend.check()} <= {"scheduler.E002"}
    assert {name for name in required if any(name in e.msg for e in backend.check())} == required


# --- Dispatch settings ---------------------------------------------------------
def test_it_accepts_the_default_dispatch_settings() -> None:
    assert check_dispatch_settings() == []


@pytest.mark.parametrize("setting", WHOLE_NUMBERS_FROM_ONE)
@pytest.mark.parametrize("value", [0, -1])
def test_it_refuses_a_dispatch_setting_below_one(settings: Any, setting: str, value: int) -> None:
    setattr(settings, setting, value)

    [error] = check_dispatch_settings()

    assert error.id == "scheduler.E006"
    assert setting in error.msg


@pytest.mark.parametrize("setting", POSITIVE_SECONDS)
@pytest.mark.parametrize("value", [0, -1.5, float("inf"), float("nan")])
def test_it_refuses_a_timeout_that_is_not_a_positive_number(
    settings: Any, setting: str, value: float
) -> None:
    setattr(settings, setting, value)

    [error] = check_dispatch_settings()

    assert error.id == "scheduler.E007"
    assert setting in error.msg


def test_it_refuses_a_first_retry_wait_longer_than_the_longest(settings: Any) -> None:
    settings.DISPATCH_RETRY_BASE_SECONDS = 600
    settings.DISPATCH_RETRY_MAX_SECONDS = 60

    [error] = check_dispatch_settings()

    assert error.id == "scheduler.E008"
    assert "DISPATCH_RETRY_BASE_SECONDS" in error.msg
    assert "DISPATCH_RETRY_MAX_SECONDS" in error.msg


@pytest.mark.parametrize("setting", ["DISPATCH_BATCH_SIZE", "DISPATCH_CONCURRENCY"])
def test_it_stops_manage_py_check_on_an_impossible_setting(settings: Any, setting: str) -> None:
    setattr(settings, setting, 0)

    with pytest.raises(SystemCheckError, match=setting):
        call_command("check", stdout=StringIO(), stderr=StringIO())


@pytest.mark.parametrize("backend", ["console", "locmem", "fcm"])
def test_it_holds_the_api_key_set_url_to_https_whatever_the_push_backend(
    settings: Any, backend: str
) -> None:
    settings.PUSH_BACKEND = backend
    settings.SUPABASE_URL = "http://abcd.supabase.co"

    [error] = check_api_key_set_url()

    assert error.id == "scheduler.E005"
    assert "SUPABASE_URL" in error.msg and "https://" in error.msg


def test_it_stops_check_deploy_on_a_plain_http_key_set_url(settings: Any) -> None:
    settings.PUSH_BACKEND = "console"
    settings.SUPABASE_URL = "http://abcd.supabase.co"

    with pytest.raises(SystemCheckError, match="SUPABASE_URL"):
        call_command("check", "--deploy", stdout=StringIO(), stderr=StringIO())


@pytest.mark.parametrize(
    "url", ["", "https://abcd.supabase.co", "http://127.0.0.1:54321", "http://localhost:54321"]
)
def test_it_accepts_an_https_local_or_absent_key_set_url(settings: Any, url: str) -> None:
    settings.PUSH_BACKEND = "console"
    settings.SUPABASE_URL = url

    assert check_api_key_set_url() == []


def test_it_reports_the_supabase_url_once_with_the_supabase_backend(
    supabase: LoopbackServer, push_settings: Any
) -> None:
    push_settings.SUPABASE_URL = "http://abcd.supabase.co"

    assert check_api_key_set_url() == []
    assert [e.id for e in check_push_backend()] == ["scheduler.E005"]
