"""A push service that errs, throttles, hangs, hangs up and babbles: the run still ends on time."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from scheduler.dispatch.pipeline import run_dispatch
from scheduler.models import DispatchRun, PromptHistory, PromptStatus
from tests.loopback import Answer, LoopbackServer, RecordedRequest
from tests.reliability.children import SUPABASE_KEY, SUPABASE_PATH, sends_per_mentor
from tests.reliability.seeding import seed_due_prompts

pytestmark = pytest.mark.django_db

DEADLINE = 2
READ_TIMEOUT = 0.3
# Every answer takes a while, so the run cannot finish all prompts before its deadline.
SLOW = 0.2
HUGE = b"x" * (5 * 1024 * 1024)
HTML_PAGE = b"<html><head><title>503 Service Temporarily Unavailable</title></head></html>"

BEHAVIOURS: dict[str, tuple[Answer, str]] = {
    "ok": (Answer(200, {"ok": True}, delay=SLOW), PromptStatus.DISPATCHED),
    "malformed_ok": (Answer(200, b"{not json", delay=SLOW), PromptStatus.DISPATCHED),
    "huge_ok": (Answer(200, HUGE, delay=SLOW), PromptStatus.DISPATCHED),
    "server_error": (Answer(500, "boom", delay=SLOW), PromptStatus.RETRY),
    "html_unavailable": (Answer(503, HTML_PAGE, delay=SLOW), PromptStatus.RETRY),
    "rate_limited": (Answer(429, {}, {"Retry-After": "120"}, delay=SLOW), PromptStatus.RETRY),
    "timeout": (Answer(200, {"ok": True}, delay=READ_TIMEOUT * 10), PromptStatus.RETRY),
    "dropped": (Answer(drop=True, delay=SLOW), PromptStatus.RETRY),
    "huge_rejection": (Answer(400, HUGE, delay=SLOW), PromptStatus.FAILED),
}
TRANSIENT = {name for name, (_, status) in BEHAVIOURS.items() if status == PromptStatus.RETRY}


def hostile(behaviour_of: dict[int, str]) -> Callable[[RecordedRequest], Answer]:
    return lambda request: BEHAVIOURS[behaviour_of[request.json["peer_mentor_id"]]][0]


@pytest.fixture
def supabase_service(settings: Any, push_service: LoopbackServer) -> LoopbackServer:
    settings.PUSH_BACKEND = "supabase"
    settings.SUPABASE_URL = push_service.url
    settings.SUPABASE_SERVICE_ROLE_KEY = SUPABASE_KEY
    settings.PUSH_CONNECT_TIMEOUT_SECONDS = 1.0
    settings.PUSH_READ_TIMEOUT_SECONDS = READ_TIMEOUT
    settings.DISPATCH_CONCURRENCY = 4
    settings.DISPATCH_BATCH_SIZE = 20
    settings.DISPATCH_RUN_DEADLINE_SECONDS = DEADLINE
    return push_service


def test_it_ends_on_time_with_every_prompt_recorded_and_retries_the_transient_ones_later(
    supabase_service: LoopbackServer,
) -> None:
    seeded = seed_due_prompts(90)
    names = itertools.cycle(BEHAVIOURS)
    behaviour_of = {pk: next(names) for pk in sorted(seeded.mentor_ids)}
    supabase_service.always(SUPABASE_PATH, hostile(behaviour_of))

    started = time.monotonic()
    first = run_dispatch()
    elapsed = time.monotonic() - started

    # The deadline, plus the requests already in flight (each bounded by the read
    # timeout, not by the service's 3 s hang), plus slack for a loaded machine.
    assert elapsed < DEADLINE + READ_TIMEOUT + 1.0
    run = DispatchRun.objects.get()
    assert run.finished_at is not None and "Stopped early" in run.error
    rows = {r.peer_mentor_id: r for r in PromptHistory.objects.all()}
    assert 0 < len(rows) < len(seeded.mentor_ids), "the deadline did not cut the run short"
    assert {behaviour_of[pk] for pk in rows} == set(BEHAVIOURS)
    for pk, row in rows.items():
        assert row.status == BEHAVIOURS[behaviour_of[pk]][1], behaviour_of[pk]
        assert len(row.last_error) <= 400
    assert (first.dispatched, first.retrying, first.failed) == (
        sum(r.status == PromptStatus.DISPATCHED for r in rows.values()),
        sum(r.status == PromptStatus.RETRY for r in rows.values()),
        sum(r.status == PromptStatus.FAILED for r in rows.values()),
    )
    throttled = [r for pk, r in rows.items() if behaviour_of[pk] == "rate_limited"]
    for row in throttled:
        assert row.next_attempt_at - run.started_at >= timedelta(seconds=120)

    supabase_service.always(SUPABASE_PATH, Answer(200, {"ok": True}))
    run_dispatch(now=timezone.now() + timedelta(hours=1))

    final = dict(PromptHistory.objects.values_list("peer_mentor_id", "status"))
    assert set(final) == set(seeded.mentor_ids)
    for pk, status in final.items():
        rejected = pk in rows and behaviour_of[pk] == "huge_rejection"
        assert status == (PromptStatus.FAILED if rejected else PromptStatus.DISPATCHED)
    sends = sends_per_mentor(supabase_service)
    for pk in seeded.mentor_ids:
        retried = pk in rows and behaviour_of[pk] in TRANSIENT
        assert sends[pk] == (2 if retried else 1)
