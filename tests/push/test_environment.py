"""What the push backends take from the process environment: read once, when built."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scheduler.push import SendOutcome
from scheduler.push.supabase import SupabaseBackend
from tests.loopback import LoopbackServer
from tests.push.conftest import SUPABASE_KEY, SUPABASE_PATH
from tests.push.helpers import message

# A loopback address where nothing listens: only a proxy can deliver there.
UNREACHABLE = "http://127.0.0.2:9"


def test_it_sends_through_the_proxy_the_environment_names(
    supabase: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", supabase.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    with SupabaseBackend(url=UNREACHABLE, concurrency=2) as backend:
        outcome = backend.send(message())

    assert outcome == SendOutcome.delivered()
    [request] = supabase.requests_to(SUPABASE_PATH)
    assert request.header("Host") == "127.0.0.2:9"


def test_it_bypasses_the_proxy_for_hosts_the_environment_exempts(
    supabase: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", UNREACHABLE)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")

    with SupabaseBackend(concurrency=2) as backend:
        outcome = backend.send(message())

    assert outcome == SendOutcome.delivered()
    assert len(supabase.requests_to(SUPABASE_PATH)) == 1


def test_it_keeps_the_service_key_when_a_netrc_names_the_host(
    supabase: LoopbackServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password something-else\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))

    with SupabaseBackend(concurrency=2) as backend:
        backend.send(message())

    [request] = supabase.requests_to(SUPABASE_PATH)
    assert request.header("Authorization") == f"Bearer {SUPABASE_KEY}"


def test_it_reads_the_environment_once_when_built(
    supabase: LoopbackServer, monkeypatch: pytest.MonkeyPatch, push_settings: Any
) -> None:
    with SupabaseBackend(concurrency=2) as backend:
        monkeypatch.setenv("HTTP_PROXY", UNREACHABLE)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        outcome = backend.send(message())

    assert outcome == SendOutcome.delivered()
