from __future__ import annotations

import os
from pathlib import Path

import pytest

from scheduler.dispatch.pipeline import run_dispatch
from scheduler.models import DispatchRun
from scheduler.monitoring import ping
from scheduler.push import locmem
from tests import factories
from tests.hang_guard import fails_if_hung
from tests.loopback import Answer, LoopbackServer
from tests.processes import manage

pytestmark = pytest.mark.django_db

CHECK = "/ping/5f1c0a4e"
# Each byte well within any read timeout; the whole answer would take minutes.
TRICKLING = Answer(200, b"OK" * 500, trickle=0.2)


def test_it_pings_start_and_success_around_a_run(settings: object) -> None:
    scenario = factories.scenario()
    factories.activity(factories.mentor(), days_ago=3)
    with LoopbackServer() as server:
        server.always(CHECK + "/start", Answer(200))
        server.always(CHECK, Answer(200))
        settings.HEALTHCHECK_PING_URL = server.url + CHECK
        summary = run_dispatch(backend=locmem.LocmemBackend())
        assert ping.wait_for_pings()
        paths = [r.path for r in server.requests]
    assert summary.dispatched == 1 and scenario.pk
    assert paths == [CHECK + "/start", CHECK]


def test_it_pings_fail_when_the_run_ends_with_an_error(settings: object) -> None:
    with LoopbackServer() as server:
        server.always(CHECK + "/start", Answer(200))
        server.always(CHECK + "/fail", Answer(200))
        settings.HEALTHCHECK_PING_URL = server.url + CHECK
        with pytest.raises(RuntimeError):
            run_dispatch(backend=StoppingBackend())
        assert ping.wait_for_pings()
        paths = [r.path for r in server.requests]
    assert paths == [CHECK + "/start", CHECK + "/fail"]


def test_it_follows_no_redirect_and_a_dead_monitor_never_stops_the_run(settings: object) -> None:
    factories.scenario()
    factories.activity(factories.mentor(), days_ago=3)
    with LoopbackServer() as server:
        server.always(
            CHECK + "/start", Answer(302, headers={"Location": server.url + "/elsewhere"})
        )
        server.always(CHECK, Answer(200, delay=5))
        settings.HEALTHCHECK_PING_URL = server.url + CHECK
        settings.HEALTHCHECK_PING_TIMEOUT_SECONDS = 0.3
        summary = run_dispatch(backend=locmem.LocmemBackend())
        assert ping.wait_for_pings()
        assert not server.requests_to("/elsewhere")
    assert summary.dispatched == 1
    settings.HEALTHCHECK_PING_URL = server.url + CHECK  # the server is gone now
    summary = run_dispatch(backend=locmem.LocmemBackend())
    assert ping.wait_for_pings()
    assert DispatchRun.objects.filter(finished_at__isnull=False).count() == 2


def test_it_finishes_a_run_while_the_monitor_trickles_its_answer(settings: object) -> None:
    factories.scenario()
    factories.activity(factories.mentor(), days_ago=3)
    with LoopbackServer() as server:
        server.always(CHECK + "/start", TRICKLING)
        server.always(CHECK, TRICKLING)
        settings.HEALTHCHECK_PING_URL = server.url + CHECK
        settings.HEALTHCHECK_PING_TIMEOUT_SECONDS = 1.0
        with fails_if_hung(30, "a run pinging a trickling monitor"):
            summary = run_dispatch(backend=locmem.LocmemBackend())
        assert summary.dispatched == 1
        # Each ping gives up at its deadline instead of reading the answer to its end.
        assert ping.wait_for_pings()
        paths = [r.path for r in server.requests]
    assert paths == [CHECK + "/start", CHECK]


def test_it_lets_the_last_ping_leave_before_the_command_exits(tmp_path: Path) -> None:
    with LoopbackServer() as server:
        # The start ping is still waiting for its answer when the run ends: the
        # success ping queued behind it must still go out before the process exits.
        server.always(CHECK + "/start", Answer(200, b"OK" * 500, delay=2, trickle=0.2))
        server.always(CHECK, TRICKLING)
        env = {
            name: os.environ[name] for name in ("PATH", "HOME", "VIRTUAL_ENV") if name in os.environ
        }
        env.update(
            SECRET_KEY="ping-child-secret",
            DATABASE_URL=f"sqlite:///{tmp_path / 'ping.sqlite3'}",
            PUSH_BACKEND="console",
            LOG_LEVEL="CRITICAL",
            HEALTHCHECK_PING_URL=server.url + CHECK,
            HEALTHCHECK_PING_TIMEOUT_SECONDS="4",
        )
        migrated = manage(env, "migrate", "--noinput", timeout=120)
        assert migrated.returncode == 0, migrated.stderr
        # Far below the minutes the monitor's answers would take to arrive in full.
        child = manage(env, "run_dispatch", "--json", timeout=60)
        paths = [r.path for r in server.requests]
    assert child.returncode == 0, child.stderr
    assert paths == [CHECK + "/start", CHECK]


class StoppingBackend(locmem.LocmemBackend):
    def open(self) -> None:
        raise RuntimeError("push service down")
