"""What runs leave behind: sends in doubt, claims to take over, retries no longer due.

A run that died may have left prompts claimed but never sent (taken over by
the next run), prompts whose request had started (in doubt: flagged for a
person, never resent), and retries that became too late or no longer due.
A run that ends gives back the claims it never sent, and flags the sends it
gave up on, itself.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from scheduler.dispatch.shard import WHOLE, Shard
from scheduler.models import DispatchRun, PromptHistory, PromptStatus, Scenario
from scheduler.rules import due_activities, lookback_of


def stale_cutoff(now: datetime) -> datetime:
    return now - timedelta(seconds=settings.DISPATCH_STALE_CLAIM_SECONDS)


def reclaimable_q(now: datetime) -> Q:
    """Rows a run may take over: due retries and claims a dead run never started.

    A run is dead once its lease has expired. Any claim older than
    `DISPATCH_STALE_CLAIM_SECONDS` is taken over as well: the fallback for a run
    whose lease the database lost track of, or one wedged while its lease
    thread still renews. `claimed_at` is the run's start, so that setting must
    stay above the longest a run lives (its deadline and a request's).
    """
    unstarted = Q(status=PromptStatus.PENDING, sending_started_at__isnull=True)
    return Q(status=PromptStatus.RETRY, next_attempt_at__lte=now) | (
        unstarted & (Q(claimed_at__lt=stale_cutoff(now)) | Q(run__in=expired_runs(now)))
    )


def expired_runs(now: datetime) -> QuerySet[DispatchRun, Any]:
    # A subquery rather than a join: the takeover locks its rows FOR UPDATE.
    return DispatchRun.objects.filter(lease_expires_at__lt=now).values("pk")


IN_DOUBT_ERROR = "The run stopped while sending; delivery unknown, not resent to avoid a duplicate."


def flag_in_doubt(rows: QuerySet[PromptHistory], now: datetime | None = None) -> int:
    return rows.update(
        status=PromptStatus.FAILED,
        needs_review=True,
        last_error=IN_DOUBT_ERROR,
        finished_at=now or timezone.now(),
    )


def give_back_unsent(run: DispatchRun, prompt_ids: Collection[int], now: datetime) -> None:
    """Give back claims the run never sent so the next run takes them at once."""
    unsent = PromptHistory.objects.filter(
        pk__in=list(prompt_ids),
        run=run,
        status=PromptStatus.PENDING,
        sending_started_at__isnull=True,
    )
    # A never-tried prompt simply disappears from the history and is due again.
    unsent.filter(attempts=0).delete()
    unsent.filter(attempts__gt=0).update(status=PromptStatus.RETRY, next_attempt_at=now)


def flag_stuck_sends(run: DispatchRun, prompt_ids: Collection[int]) -> int:
    """Sends still stuck when the run must end: in doubt now, not after the stale timeout."""
    return flag_in_doubt(
        PromptHistory.objects.filter(pk__in=list(prompt_ids), run=run, status=PromptStatus.PENDING)
    )


def flag_sends_of_dead_runs(now: datetime) -> int:
    """Prompts whose request started in a run that died: flag them for a person.

    They are not resent: the push service may already have delivered them,
    and a duplicate is worse than a prompt a coordinator follows up by hand.
    """
    started = Q(status=PromptStatus.PENDING, sending_started_at__isnull=False)
    dead = Q(sending_started_at__lt=stale_cutoff(now)) | Q(run__in=expired_runs(now))
    return flag_in_doubt(PromptHistory.objects.filter(started & dead), now)


def reclaimable_rows(now: datetime, shard: Shard) -> QuerySet[PromptHistory]:
    rows = PromptHistory.objects.filter(reclaimable_q(now))
    where = shard.where()
    return rows if where is None else rows.filter(where)


def scenarios_with_reclaimable(
    scenarios: dict[int, Scenario], now: datetime, shard: Shard = WHOLE
) -> list[int]:
    """The scenarios that have retries or abandoned claims (of the shard's mentors) to take
    up: usually none."""
    rows = reclaimable_rows(now, shard).filter(scenario_id__in=list(scenarios))
    return sorted(set(rows.values_list("scenario_id", flat=True).distinct()))


def close_reclaimable(
    scenarios: dict[int, Scenario], now: datetime, shard: Shard = WHOLE
) -> tuple[int, int]:
    """Close retries and abandoned claims that must not be sent any more.

    Too late (due before the lookback) -> failed; the rule no longer holds
    (a later activity was logged, the mentor became inactive or left the
    chapter) -> skipped. Returns (failed, skipped). A paused mentor's prompt
    stays open: it is held, not dropped. A shard closes only its own mentors' rows.
    """
    failed = skipped = 0
    for pk in scenarios_with_reclaimable(scenarios, now, shard):
        scenario = scenarios[pk]
        reclaimable = reclaimable_rows(now, shard).filter(scenario_id=pk)
        failed += reclaimable.filter(due_at__lt=now - lookback_of(scenario)).update(
            status=PromptStatus.FAILED,
            last_error="Too late: outside the scenario's lookback.",
            finished_at=now,
        )
        still_due = due_activities(
            scenario,
            now,
            with_deferred=True,
            reclaimable=reclaimable_q(now),
            mentor_filter=shard.where(),
        )
        skipped += reclaimable.exclude(activity_id__in=still_due.values("pk")).update(
            status=PromptStatus.SKIPPED,
            last_error="No longer due: the rule no longer holds for this activity.",
            finished_at=now,
        )
    return failed, skipped
