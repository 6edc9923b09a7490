"""One dispatch run: evaluate -> deduplicate -> claim -> dispatch -> record.

`run_dispatch` is the only entry point: the management command, the
django-q2 schedule and the admin's "run now" all call it. `Dispatch.loop`
is the loop of one run, its stages numbered as in docs/design.md.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from datetime import datetime

from django.db import DatabaseError, connection
from django.db.models import Q
from django.utils import timezone

from scheduler.dispatch import policy, recovery
from scheduler.dispatch.conf import DispatchConf
from scheduler.dispatch.dry_run import dry_run_summary
from scheduler.dispatch.evaluation import MentorScope, chunked, evaluate, load_scenarios
from scheduler.dispatch.lease import Lease, lease_expiry
from scheduler.dispatch.ledger import Ledger, drop_broken_connection
from scheduler.dispatch.lifecycle import ERRORS, Lifecycle, Why
from scheduler.dispatch.policy import Admission
from scheduler.dispatch.sending import ClaimedPrompt, PromptResult, SendPool
from scheduler.dispatch.shard import WHOLE, Shard
from scheduler.dispatch.summary import DispatchSummary, Tally
from scheduler.due_prompts import DuePrompt
from scheduler.escalation.step import run_escalation
from scheduler.models import DeviceToken, DispatchRun, PromptStatus, Scenario
from scheduler.monitoring import metrics, ping
from scheduler.push import BasePushBackend, get_backend

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]

# How long the loop waits for a send to finish before it looks at the clock
# and the stop signal again.
POLL_SECONDS = 0.5


def run_dispatch(
    *,
    trigger: str = DispatchRun.Trigger.COMMAND,
    dry_run: bool = False,
    scenario_id: int | None = None,
    chapter_ids: Collection[int] | None = None,
    now: datetime | None = None,
    backend: BasePushBackend | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    conf: DispatchConf | None = None,
    shard: Shard = WHOLE,
    tick: uuid.UUID | None = None,
    tick_queued_at: datetime | None = None,
) -> DispatchSummary:
    """One run over the enabled scenarios; `chapter_ids` limits it to those chapters' mentors,
    `shard` to the mentors whose id % shard.count == shard.index (one run of a sharded `tick`)."""
    now = now or timezone.now()
    conf = conf or DispatchConf.from_settings()
    say = progress or (lambda message: None)
    scenarios = load_scenarios(scenario_id, chapter_ids)
    mentors = MentorScope(chapter_ids, shard)
    say(f"1. evaluate: {len(scenarios)} enabled scenario(s)")
    if dry_run:
        return dry_run_summary(scenarios, mentors, now, say, conf.batch_size)

    backend = backend or get_backend(concurrency=conf.concurrency)
    run = DispatchRun.objects.create(
        trigger=trigger,
        started_at=now,
        lease_expires_at=timezone.now() + lease_expiry(conf.lease_seconds),
        shard_index=shard.index,
        shard_count=shard.count,
        tick=tick,
        tick_queued_at=tick_queued_at,
    )
    ping.run_started()  # never raises
    dispatch = Dispatch(run, scenarios, mentors, backend, now, stop or threading.Event(), say, conf)
    try:
        with Lease(run, conf.lease_seconds) as dispatch.lease:
            dispatch.loop()
            run_escalation(run, scenarios, now, chapter_ids, say)  # 7. never raises
    except Exception as exc:
        run.error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        finish_run(run, dispatch.tally)  # 8. the summary on the DispatchRun
        metrics.record_run(run, dispatch.tally.summary().counts())  # these two never raise
        ping.run_finished(run)
    summary = dispatch.tally.summary()
    say(
        f"8. done: {summary.dispatched} dispatched, {summary.failed} failed, "
        f"{summary.skipped} skipped, {summary.retrying} to retry"
    )
    return summary


class Dispatch:
    """The loop of one run: claim a batch when the pool has room, send, record.

    Batches are claimed one at a time as sending proceeds, so memory stays
    flat and a crash leaves at most one batch claimed. Free slots are refilled
    before finished sends are recorded, so requests keep flowing while the
    database is written.
    """

    def __init__(
        self,
        run: DispatchRun,
        scenarios: dict[int, Scenario],
        mentors: MentorScope,
        backend: BasePushBackend,
        now: datetime,
        stop: threading.Event,
        say: Progress,
        conf: DispatchConf,
    ) -> None:
        self.conf = conf
        self.ledger = Ledger(run, scenarios, conf)
        self.scenarios = scenarios
        self.mentors = mentors
        self.backend = backend
        self.now = now
        self.stop = stop
        self.say = say
        self.tally = Tally()
        self.admission = Admission(now, self.tally, predict_daily_cap=False)
        self.deadline = time.monotonic() + conf.run_deadline_seconds
        self.due_batches: Iterator[list[DuePrompt]] = iter(())
        self.waiting: deque[tuple[ClaimedPrompt, Sequence[str]]] = deque()
        self.unrecorded: list[PromptResult] = []
        self.batches_claimed = 0
        self.lease: Lease | None = None
        self.lifecycle = Lifecycle()

    def loop(self) -> None:
        # 0. What earlier runs left behind: sends in doubt, retries too late or no longer due.
        self.close_what_earlier_runs_left()
        # 1-2. Evaluate and deduplicate: one lazy, read-only query per scenario; each
        # batch is read from it when the pool has room for it (claim_next_batch).
        due = self.mentors.only(evaluate(self.scenarios, self.now, shard=self.mentors.shard))
        self.due_batches = chunked(due, self.conf.batch_size)
        with (
            self.backend,
            SendPool(self.backend, self.conf.concurrency, self.conf.max_attempts) as pool,
        ):
            while self.has_work(pool):
                finished = pool.finished(timeout=POLL_SECONDS)  # 5. sends land
                self.fill_pool(pool)  # 2-5. refill the free slots before writing
                self.settle(finished)  # 6. record
                if self.must_abandon(pool):
                    self.abandon(pool)
                    break
            self.give_back(list(self.waiting))
        self.lifecycle.stop()
        self.note_why_stopped()
        if self.lifecycle.failure is not None:
            raise self.lifecycle.failure

    def close_what_earlier_runs_left(self) -> None:
        self.tally.in_doubt = recovery.flag_sends_of_dead_runs(self.now)
        closed_too_late, no_longer_due = recovery.close_reclaimable(
            self.scenarios, self.now, self.mentors.shard
        )
        self.tally.counts[PromptStatus.FAILED] += closed_too_late
        self.tally.counts[PromptStatus.SKIPPED] += no_longer_due

    def fill_pool(self, pool: SendPool) -> None:
        """2-5. Claim as the pool has room, mark the wave as sending, hand it to the pool."""
        wave: list[tuple[ClaimedPrompt, Sequence[str]]] = []
        while len(wave) < pool.room and len(self.unrecorded) < self.conf.batch_size:
            if not self.claiming() or (not self.waiting and not self.claim_next_batch()):
                break
            if self.waiting:
                prompt, tokens = self.waiting.popleft()
                if tokens:
                    wave.append((prompt, tokens))
                else:
                    self.unrecorded.append(
                        PromptResult(prompt, PromptStatus.SKIPPED, "No active device.")
                    )
        tokens_of = dict((p.id, tokens) for p, tokens in wave)
        for prompt in self.sendable([p for p, _ in wave]):
            pool.send(prompt, tokens_of[prompt.id])  # 5. each prompt to its devices

    def claim_next_batch(self) -> bool:
        """Stages 2-4 for the next batch; False when nothing is left to evaluate."""
        try:
            batch = next(self.due_batches, None)  # 2. the next batch of due prompts is read
            if batch is None:
                self.lifecycle.stop_claiming(Why.ALL_CLAIMED)
                return False
            self.claim(batch)
        except Exception as exc:
            self.lifecycle.fail(exc)
            return False
        return True

    def claim(self, batch: list[DuePrompt]) -> None:
        admitted = self.admission.admitted(batch)  # 3. pause, quiet hours
        tokens = prefetch_tokens({p.peer_mentor_id for p in admitted})  # 3. device tokens
        capped_before = self.ledger.capped
        claimed = self.ledger.claim(admitted, self.now)  # 4. claim, within the daily cap
        if self.ledger.capped > capped_before:
            self.tally.deferred[policy.DAILY_CAP] += self.ledger.capped - capped_before
        self.batches_claimed += 1
        self.say(
            f"3-4. batch {self.batches_claimed}: {len(batch)} due, {len(admitted)} admitted, "
            f"{len(claimed)} claimed by this run"
        )
        self.waiting.extend((p, tokens.get(p.peer_mentor_id, ())) for p in claimed)

    def sendable(self, prompts: list[ClaimedPrompt]) -> list[ClaimedPrompt]:
        """5a. The compare-and-set before the requests: the prompts this run may send now.

        If the mark cannot be written, nothing is sent: the prompts stay
        claimed and unstarted, so a later run takes them over instead of them
        being left in doubt.
        """
        try:
            return self.ledger.mark_sending(prompts, timezone.now())
        except Exception:
            logger.exception(
                "could not mark %d prompts as sending; left for a later run", len(prompts)
            )
            drop_broken_connection()
            return []

    def settle(self, finished: list[PromptResult]) -> None:
        """6. Record what finished (and what never needed a request), then count it.

        An outcome whose row this run no longer holds is not counted.
        """
        results, self.unrecorded = [*self.unrecorded, *finished], []
        for result, recorded in self.ledger.record(results):
            self.count(result, recorded=recorded)

    def count(self, result: PromptResult, *, recorded: bool = True) -> None:
        if recorded:
            self.tally.counts[result.status] += 1
        if result.dead_tokens:
            deactivate_tokens(result.dead_tokens)
        if result.misconfigured and not self.tally.misconfigured:
            # Every further send would fail the same way: stop, keep the rest due.
            self.tally.misconfigured = result.error
            self.lifecycle.stop_claiming(Why.MISCONFIGURED)

    # The lifecycle: whether the run still claims, and how it stops.

    def has_work(self, pool: SendPool) -> bool:
        claiming = self.claiming()  # asked every turn: a stop must be seen while sends hang
        return bool(pool.in_flight or self.unrecorded) or claiming

    def claiming(self) -> bool:
        """Whether the run still claims; a reason to stop that came up ends that."""
        why = self.reason_to_stop()
        if why is not None:
            self.lifecycle.stop_claiming(why)
        return self.lifecycle.claiming

    def reason_to_stop(self) -> Why | None:
        if self.tally.misconfigured:
            return Why.MISCONFIGURED
        if self.lease is not None and self.lease.lost:
            return Why.LEASE_LOST
        if time.monotonic() > self.deadline:
            return Why.DEADLINE
        if self.stop.is_set():
            return Why.SHUTDOWN
        return None

    def must_abandon(self, pool: SendPool) -> bool:
        """Sends still running this long after the stop have outlived every timeout."""
        if not pool.in_flight or not self.lifecycle.stopped_early:
            return False
        return self.lifecycle.seconds_stopping() > self.conf.request_deadline_seconds

    def abandon(self, pool: SendPool) -> None:
        stuck = list(pool.in_flight.values())
        logger.warning("%d sends did not finish; left in doubt", len(stuck))
        try:
            self.tally.in_doubt += recovery.flag_stuck_sends(self.ledger.run, [p.id for p in stuck])
        except Exception:
            logger.exception("could not flag %d stuck sends; the stale timeout will", len(stuck))

    def give_back(self, unsent: list[tuple[ClaimedPrompt, Sequence[str]]]) -> None:
        if not unsent:
            return
        try:
            recovery.give_back_unsent(self.ledger.run, [p.id for p, _ in unsent], timezone.now())
        except Exception:
            logger.exception(
                "could not give back %d unsent claims; a later run takes them over", len(unsent)
            )

    def note_why_stopped(self) -> None:
        self.claiming()  # a reason that came up during the last sends counts too
        why = self.lifecycle.why
        if why is Why.MISCONFIGURED:
            error = f"Push backend misconfigured, run stopped: {self.tally.misconfigured}"
            self.ledger.run.error = error
        elif why in ERRORS:
            self.ledger.run.error = ERRORS[why]


def prefetch_tokens(mentor_ids: set[int]) -> dict[int, list[str]]:
    tokens: dict[int, list[str]] = {}
    if not mentor_ids:
        return tokens
    rows = DeviceToken.objects.filter(peer_mentor_id__in=mentor_ids, is_active=True).order_by("pk")
    for mentor_id, token in rows.values_list("peer_mentor_id", "token"):
        tokens.setdefault(mentor_id, []).append(token)
    return tokens


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
    for name, value in summary.counts().items():
        setattr(run, name, value)
    run.deferred = summary.deferred
    run.finished_at = timezone.now()
    # Ended, well or not: what it still holds is free for the next run at once,
    # not after DISPATCH_STALE_CLAIM_SECONDS.
    run.lease_expires_at = run.finished_at
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
