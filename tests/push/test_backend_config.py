"""Backends take their configuration as arguments that fall back to settings, like Django's
mail backends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from scheduler.push import Delivery, fcm
from scheduler.push.fcm import FcmBackend
from scheduler.push.supabase import SupabaseBackend
from tests.loopback import Answer, LoopbackServer
from tests.push.conftest import FCM_PATH, SUPABASE_KEY
from tests.push.helpers import message


def forget_supabase_settings(push_settings: Any) -> None:
    for name in (*SupabaseBackend.required_settings, "SUPABASE_SECRET_KEY"):
        setattr(push_settings, name, "")
    push_settings.SUPABASE_SERVICE_ROLE_KEY = ""


def test_it_sends_to_the_supabase_function_given_as_arguments(
    push_settings: Any, loopback: LoopbackServer
) -> None:
    forget_supabase_settings(push_settings)
    loopback.always("/functions/v1/given-function", Answer(200))

    with SupabaseBackend(url=loopback.url, key="given-key", function_name="given-function") as b:
        outcome = b.send(message())

    assert outcome.ok
    [request] = loopback.requests
    assert request.path == "/functions/v1/given-function"
    assert request.header("apikey") == "given-key"


def test_it_prefers_arguments_to_settings(supabase: LoopbackServer) -> None:
    supabase.always("/functions/v1/other", Answer(200))

    with SupabaseBackend(key="argument-key", function_name="other") as backend:
        backend.send(message())

    [request] = supabase.requests
    assert request.path == "/functions/v1/other"
    assert request.header("apikey") == "argument-key" != SUPABASE_KEY


def test_it_takes_a_secret_key_as_an_argument(push_settings: Any, loopback: LoopbackServer) -> None:
    forget_supabase_settings(push_settings)
    loopback.always("/functions/v1/f", Answer(200))

    with SupabaseBackend(url=loopback.url, secret_key="sb_secret_given", function_name="f") as b:
        b.send(message())

    [request] = loopback.requests
    assert request.header("apikey") == "sb_secret_given"
    assert request.header("Authorization") is None


def test_it_names_a_setting_missing_from_both_arguments_and_settings(push_settings: Any) -> None:
    forget_supabase_settings(push_settings)

    with pytest.raises(ImproperlyConfigured, match="SUPABASE_SERVICE_ROLE_KEY") as refused:
        SupabaseBackend(url="https://abcd.supabase.co", function_name="f")

    assert "SUPABASE_URL" not in str(refused.value)


def test_it_applies_a_timeout_given_as_an_argument(supabase: LoopbackServer) -> None:
    supabase.script("/functions/v1/dispatch-scenario-prompt", Answer(200, delay=2))

    with SupabaseBackend(timeout=0.2) as backend:
        outcome = backend.send(message())

    assert outcome.delivery is Delivery.TRANSIENT
    assert "timed out" in outcome.error


@pytest.fixture
def fresh_google_sessions() -> Iterator[None]:
    yield
    fcm.forget_sessions()


@pytest.mark.usefixtures("fresh_google_sessions")
def test_it_sends_to_the_fcm_project_given_as_arguments(
    push_settings: Any, loopback: LoopbackServer, service_account_file: Path
) -> None:
    for name in FcmBackend.required_settings:
        setattr(push_settings, name, "")
    path = "/v1/projects/given-project/messages:send"
    loopback.always(path, Answer(200, {}))

    with FcmBackend(
        project_id="given-project",
        credentials_file=str(service_account_file),
        api_url=loopback.url,
    ) as backend:
        outcome = backend.send(message())

    assert outcome.ok
    assert [r.path for r in loopback.requests_to(path)] == [path]
    assert loopback.requests_to(FCM_PATH) == []


class FailingToOpen(SupabaseBackend):
    def open(self) -> None:
        super().open()  # the pooled session exists...
        raise OSError("...and then opening fails")


def test_it_closes_what_open_got_before_it_failed(supabase: LoopbackServer) -> None:
    backend = FailingToOpen()

    with pytest.raises(OSError), backend:
        pass

    assert backend._pool is None
