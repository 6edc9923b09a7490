from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scheduler.push import fcm
from tests.loopback import (
    Answer,
    LoopbackServer,
    generate_private_key_pem,
    keep_google_auth_local,
    service_account_info,
)

SUPABASE_KEY = "service-role-key-for-tests"
SUPABASE_PATH = "/functions/v1/dispatch-scenario-prompt"
FCM_PROJECT = "loopback-project"
FCM_PATH = f"/v1/projects/{FCM_PROJECT}/messages:send"


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        yield server


@pytest.fixture(scope="session")
def private_key_pem() -> bytes:
    return generate_private_key_pem()


@pytest.fixture
def service_account_file(
    tmp_path: Path, loopback: LoopbackServer, private_key_pem: bytes, monkeypatch: Any
) -> Path:
    keep_google_auth_local(monkeypatch, loopback)
    loopback.serve_oauth_tokens()
    path = tmp_path / "service-account.json"
    path.write_text(json.dumps(service_account_info(loopback, private_key_pem)))
    return path


@pytest.fixture
def push_settings(settings: Any) -> Any:
    settings.PUSH_CONNECT_TIMEOUT_SECONDS = 1.0
    settings.PUSH_READ_TIMEOUT_SECONDS = 1.0
    settings.DISPATCH_CONCURRENCY = 4
    return settings


@pytest.fixture
def supabase(push_settings: Any, loopback: LoopbackServer) -> LoopbackServer:
    """PUSH_BACKEND=supabase against the loopback; every send accepted unless scripted."""
    push_settings.PUSH_BACKEND = "supabase"
    push_settings.SUPABASE_URL = loopback.url
    push_settings.SUPABASE_SERVICE_ROLE_KEY = SUPABASE_KEY
    push_settings.SUPABASE_FUNCTION_NAME = "dispatch-scenario-prompt"
    loopback.always(SUPABASE_PATH, Answer(200, {"ok": True}))
    return loopback


@pytest.fixture
def firebase(
    push_settings: Any, loopback: LoopbackServer, service_account_file: Path
) -> Iterator[LoopbackServer]:
    """PUSH_BACKEND=fcm against the loopback (OAuth included); every send accepted unless scripted."""
    push_settings.PUSH_BACKEND = "fcm"
    push_settings.FCM_PROJECT_ID = FCM_PROJECT
    push_settings.FCM_CREDENTIALS_FILE = str(service_account_file)
    push_settings.FCM_API_URL = loopback.url
    loopback.always(FCM_PATH, Answer(200, {"name": f"projects/{FCM_PROJECT}/messages/1"}))
    yield loopback
    fcm.forget_sessions()


def fcm_error(status: int, code: str, message: str = "", *extra: dict[str, Any]) -> dict:
    """An FCM v1 error body as Google sends it."""
    details: list[dict[str, Any]] = []
    if code:
        details.append({"@type": fcm.FCM_ERROR_TYPE, "errorCode": code})
    return {
        "error": {
            "code": status,
            "message": message or "error",
            "status": {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED"}.get(
                status, "UNAVAILABLE" if status >= 500 else "PERMISSION_DENIED"
            ),
            "details": [*details, *extra],
        }
    }
