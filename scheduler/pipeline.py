"""One dispatch run: evaluate -> deduplicate -> claim -> dispatch -> record.

`run_dispatch` is the only entry point: the management command, the
django-q2 schedule and the admin's "run now" all call it.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Q
from django.utils import timezone

from scheduler import claims, delivery, policy
from scheduler.claims import ClaimedPrompt, Ledger
from scheduler.models import ActivityKind, DeviceToken, DispatchRun, PromptStatus, Scenario
from scheduler.push import BasePushBackend, get_backend
from scheduler.rules import DuePrompt, due_prompts, too_late_activities

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class DispatchSummary:
    dispatched: int
    failed: int
    skipped: int
    retrying: int = 0
    in_doubt: int = 0
    deferred: dict[str, int] = field(default_factory=dict)
    deferred_until: datetime | None = None
    prompts: tuple[DuePrompt, ...] = ()  # what a dry run would send
    too_late: int = 0  # a dry run: never sent, left the lookback in the last day
    # Set when the push backend reported its configuration as wrong and the run stopped.
    misconfigured: str = ""

    def as_dict(self, *, dry_run: bool = False) -> dict[str, object]:
        data: dict[str, object] = {
            "dispatched": self.dispatched,
            "failed": self.failed,
            "skipped": self.skipped,
            "retrying": self.retrying,
            "in_doubt": self.in_doubt,
            "deferred": dict(self.deferred),
            "deferred_until": self.deferred_until.isoformat() if self.deferred_until else None,
        }
        if self.misconfigured:
            data["misconfigured"] = self.misconfigured
        if dry_run:
            data["too_late"] = self.too_late
            data["prompts"] = [
                {
                    "peer_mentor_id": p.peer_mentor_id,
                    "scenario_id": p.scenario_id,
                    "activity_id": p.activity_id,
                    "due_at": p.due_at.isoformat(),
                }
                for p in self.prompts
            ]
        return data


@dataclass
class Tally:
    counts: Counter[str] = field(default_factory=Counter)
    deferred: Counter[str] = field(default_factory=Counter)
    deferred_until: datetime | None = None
    in_doubt: int = 0
    misconfigured: str = ""

    def summary(self, prompts: Sequence[DuePrompt] = (), too_late: int = 0) -> DispatchSummary:
        return DispatchSummary(
            dispatched=self.counts[PromptStatus.DISPATCHED],
            failed=self.counts[PromptStatus.FAILED],
            skipped=self.counts[PromptStatus.SKIPPED],
            retrying=self.counts[PromptStatus.RETRY],
            in_doubt=self.in_doubt,
            deferred=dict(self.deferred),
            deferred_until=self.deferred_until,
            prompts=tuple(prompts),
            too_late=too_late,
            misconfigured=self.misconfigured,
        )


def run_dispatch(
    *,
    trigger: str = DispatchRun.Trigger.COMMAND,
    dry_run: bool = False,
    scenario_id: int | None = None,
    now: datetime | None = None,
    backend: BasePushBackend | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> DispatchSummary:
    now = now or timezone.now()
    say = progress or (lambda message: None)
    scenarios = load_scenarios(scenario_id)
    say(f"1. evaluate: {len(scenarios)} enabled scenario(s)")
    tally = Tally()
    if dry_run:
        would_send = list(admit(evaluate(scenarios, now), now, tally))
        too_late = sum(too_late_activities(s, now).count() for s in scenarios.values())
        say(f"dry run: {len(would_send)} prompt(s) would be sent, nothing written")
        return tally.summary(would_send, too_late)

    backend = backend or get_backend(concurrency=settings.DISPATCH_CONCURRENCY)
    run = DispatchRun.objects.create(trigger=trigger, started_at=now)
    deadline = time.monotonic() + settings.DISPATCH_RUN_DEADLINE_SECONDS
    stop = stop or threading.Event()

    def should_stop() -> bool:
        return stop.is_set() or time.monotonic() > deadline

    ledger = Ledger(run, scenarios)
    try:
        tally.in_doubt = claims.mark_in_doubt(now)
        too_late, no_longer_due = claims.close_returning(scenarios, now)
        tally.counts[PromptStatus.FAILED] += too_late
        tally.counts[PromptStatus.SKIPPED] += no_longer_due
        due = admit(evaluate(scenarios, now), now, tally)  # 1. evaluate, 2. deduplicate
        batches = claimed_batches(due, ledger, now, say)  # 3. pre-fetch tokens, 4. claim
        with backend:
            results = delivery.dispatch(  # 5. dispatch
                batches,
                backend,
                ledger,
                concurrency=settings.DISPATCH_CONCURRENCY,
                should_stop=should_stop,
            )
            record_all(results, ledger, tally, stop)  # 6. record
        if tally.misconfigured:
            run.error = f"Push backend misconfigured, run stopped: {tally.misconfigured}"
        elif should_stop():
            run.error = "Stopped early (deadline or shutdown); the rest stays due for the next run."
    except Exception as exc:
        run.error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        finish_run(run, tally)  # 7. summary on the DispatchRun
    summary = tally.summary()
    say(
        f"7. done: {summary.dispatched} dispatched, {summary.failed} failed, "
        f"{summary.skipped} skipped, {summary.retrying} to retry"
    )
    return summary


def load_scenarios(scenario_id: int | None) -> dict[int, Scenario]:
    qs = Scenario.objects.select_related("chapter").filter(is_enabled=True)
    if scenario_id is not None:
        qs = qs.filter(pk=scenario_id)
    scenarios = {s.pk: s for s in qs}
    # A row saved without validation must not stop every other scenario's run.
    for pk in [pk for pk, s in scenarios.items() if s.trigger_kind not in ActivityKind.values]:
        logger.warning("scenario %s has an unknown trigger kind and is ignored", pk)
        del scenarios[pk]
    return scenarios


def evaluate(scenarios: dict[int, Scenario], now: datetime) -> Iterator[DuePrompt]:
    """Stages 1 and 2: one streamed query per scenario, PromptHistory anti-joined
    inside it, merged oldest due first with the retries that are due again.

    Each activity appears at most once per scenario, so a run cannot hold the
    same (mentor, scenario, activity) twice.
    """
    returning = claims.returning_q(now)
    streams = [due_prompts(s, now) for s in scenarios.values()]
    streams += [
        due_prompts(scenarios[pk], now, returning=returning)
        for pk in claims.scenarios_with_returning(scenarios, now)
    ]
    return heapq.merge(*streams, key=lambda p: p.due_at)


def admit(due: Iterable[DuePrompt], now: datetime, tally: Tally) -> Iterator[DuePrompt]:
    """Delivery policy: pause, quiet hours and the daily cap hold prompts back."""
    quiet_until = policy.quiet_hours_end(now)
    cap = policy.DailyCap(now)
    for chunk in chunked(due, settings.DISPATCH_BATCH_SIZE):
        cap.load(p.peer_mentor_id for p in chunk)
        for prompt in chunk:
            if prompt.held_by:
                tally.deferred[prompt.held_by] += 1
            elif quiet_until is not None:
                tally.deferred[policy.QUIET_HOURS] += 1
                tally.deferred_until = quiet_until
            elif not cap.admit(prompt.peer_mentor_id):
                tally.deferred[policy.DAILY_CAP] += 1
            else:
                yield prompt


def claimed_batches(
    due: Iterable[DuePrompt], ledger: Ledger, now: datetime, say: Progress
) -> Iterator[list[tuple[ClaimedPrompt, Sequence[str]]]]:
    """Stages 3 and 4, a batch at a time: device tokens in one query, then the claim."""
    for number, batch in enumerate(chunked(due, settings.DISPATCH_BATCH_SIZE), start=1):
        tokens = prefetch_tokens({p.peer_mentor_id for p in batch})
        claimed = ledger.claim(batch, now)
        say(f"3-4. batch {number}: {len(batch)} due, {len(claimed)} claimed by this run")
        yield [(p, tokens.get(p.peer_mentor_id, ())) for p in claimed]


def prefetch_tokens(mentor_ids: set[int]) -> dict[int, list[str]]:
    tokens: dict[int, list[str]] = {}
    rows = DeviceToken.objects.filter(peer_mentor_id__in=mentor_ids, is_active=True).order_by("pk")
    for mentor_id, token in rows.values_list("peer_mentor_id", "token"):
        tokens.setdefault(mentor_id, []).append(token)
    return tokens


def record_all(
    waves: Iterable[list[delivery.PromptResult]],
    ledger: Ledger,
    tally: Tally,
    stop: threading.Event,
) -> None:
    for results in waves:
        delivery.record_results(ledger, results)
        for result in results:
            tally.counts[result.status] += 1
            if result.dead_tokens:
                deactivate_tokens(result.dead_tokens)
            if result.misconfigured and not tally.misconfigured:
                # Every further send would fail the same way: stop, keep the rest due.
                tally.misconfigured = result.error
                stop.set()


def deactivate_tokens(dead: Iterable[tuple[str, str]]) -> None:
    for token, reason in dead:
        try:
            DeviceToken.objects.filter(Q(token=token), is_active=True).update(
                is_active=False, deactivated_at=timezone.now(), deactivation_reason=reason[:200]
            )
        except Exception:
            logger.exception("could not deactivate a device token")


def finish_run(run: DispatchRun, tally: Tally) -> None:
    summary = tally.summary()
    run.finished_at = timezone.now()
    run.dispatched = summary.dispatched
    run.failed = summary.failed
    run.skipped = summary.skipped
    run.retrying = summary.retrying
    run.in_doubt = summary.in_doubt
    run.deferred = summary.deferred
    try:
        save_run(run)
    except Exception:
        logger.exception("could not store the summary of dispatch run %s", run.pk)


def save_run(run: DispatchRun) -> None:
    """Save the run's row; after a dropped connection, once more on a fresh one.

    The error of a run that lost its database is worth keeping when the
    database is back a moment later.
    """
    try:
        run.save()
    except DatabaseError:
        if connection.in_atomic_block:
            raise
        connection.close()
        run.save()


def chunked(items: Iterable[DuePrompt], size: int) -> Iterator[list[DuePrompt]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
