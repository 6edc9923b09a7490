"""The daily cap holds when runs over different scenarios claim for the same mentors at once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from scheduler.models import PromptHistory, Scenario
from tests import factories
from tests.loopback import Answer, LoopbackServer
from tests.reliability.children import (
    SUPABASE_PATH,
    Child,
    child_env,
    released_together,
    start_dispatch,
)
from tests.reliability.seeding import seed_due_prompts

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

MENTORS = 30
CAP = 2
SCENARIOS = 4


def test_it_gives_every_mentor_exactly_the_cap_when_scenario_runs_overlap(
    push_service: LoopbackServer, tmp_path: Path
) -> None:
    seeded = seed_due_prompts(MENTORS)
    for _ in range(1, SCENARIOS):
        factories.scenario()  # the same rule again: due for every seeded mentor
    push_service.always(SUPABASE_PATH, Answer(200, {"ok": True}))
    env = child_env(push_service, MAX_PROMPTS_PER_MENTOR_PER_DAY=CAP, DISPATCH_BATCH_SIZE=7)

    # Staff run each scenario by hand while the schedule runs them all: five runs,
    # held at their first write to the history and let go at the same moment.
    scenario_ids = list(Scenario.objects.values_list("pk", flat=True))
    with released_together(1 + len(scenario_ids)):
        runs: list[Child] = [start_dispatch(env, tmp_path, "all")]
        runs += [
            start_dispatch(env, tmp_path, f"scenario-{pk}", "--scenario", str(pk))
            for pk in scenario_ids
        ]
    for child in runs:
        assert child.wait() == 0, child.stderr

    per_mentor = Counter(PromptHistory.objects.values_list("peer_mentor_id", flat=True))
    assert per_mentor == dict.fromkeys(seeded.mentor_ids, CAP)
    sent = Counter(r.json["peer_mentor_id"] for r in push_service.requests_to(SUPABASE_PATH))
    assert sent == per_mentor
    deferred = sum(child.summary()["deferred"].get("daily_cap", 0) for child in runs)
    assert deferred >= MENTORS * (SCENARIOS - CAP)
