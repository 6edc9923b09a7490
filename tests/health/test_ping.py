from __future__ import annotations

import pytest

from scheduler.dispatch.pipeline import run_dispatch
from scheduler.models import DispatchRun
from scheduler.push import locmem
from tests import factories
from tests.loopback import Answer, LoopbackServer

pytestmark = pytest.mark.django_db

CHECK = "/ping/5f1c0a4e"


def test_it_pings_start_and_success_around_a_run(settings: object) -> None:
    scenario = factories.scenario()
    factories.activity(factories.mentor(), days_ago=3)
    with LoopbackServer() as server:
        server.always(CHECK + "/start", Answer(200))
        server.always(CHECK, Answer(200))
        settings.HEALTHCHECK_PING_URL = server.url + CHECK
        summary = run_dispatch(backend=locmem.LocmemBackend())
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
        assert not server.requests_to("/elsewhere")
    assert summary.dispatched == 1
    settings.HEALTHCHECK_PING_URL = server.url + CHECK  # the server is gone now
    summary = run_dispatch(backend=locmem.LocmemBackend())
    assert DispatchRun.objects.filter(finished_at__isnull=False).count() == 2


class StoppingBackend(locmem.LocmemBackend):
    def open(self) -> None:
        raise RuntimeError("push service down")
