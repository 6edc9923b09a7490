"""A dry run: what a run would send now, found as a real run finds it, nothing written.

It claims nothing, so the daily cap is predicted from the history as it is
now (a real run counts it at the claim, under a lock).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from scheduler.dispatch.evaluation import MentorScope, chunked, evaluate_all
from scheduler.dispatch.policy import Admission
from scheduler.dispatch.summary import DispatchSummary, Tally
from scheduler.due_prompts import TOO_LATE
from scheduler.models import Scenario

# A dry run reports the prompts that became too late unsent during the last day.
TOO_LATE_WITHIN = timedelta(days=1)


def dry_run_summary(
    scenarios: dict[int, Scenario],
    mentors: MentorScope,
    now: datetime,
    say: Callable[[str], None],
    batch_size: int,
) -> DispatchSummary:
    tally = Tally()
    admission = Admission(now, tally, predict_daily_cap=True)
    due = mentors.only(
        iter(evaluate_all(scenarios, now, too_late_within=TOO_LATE_WITHIN, shard=mentors.shard))
    )
    if admission.only_holds:
        would_send = admission.unheld(due)
    else:
        would_send = [
            prompt for batch in chunked(due, batch_size) for prompt in admission.admitted(batch)
        ]
    # Held back like a deferred prompt, but reported on its own: it will never be sent.
    too_late = tally.deferred.pop(TOO_LATE, 0)
    say(f"dry run: {len(would_send)} prompt(s) would be sent, nothing written")
    return tally.summary(would_send, too_late)
