"""Who owns a prompt. The history table is the lock.

New prompts are claimed by inserting their PromptHistory row: the unique
constraint on (peer_mentor, scenario, activity) lets exactly one run insert it,
and a run sends only rows it inserted itself. Rows that come back (retries,
claims abandoned by a crashed run) are taken with a compare-and-set update.
Just before the first request, `sending_started_at` is set the same way, so a
crash can leave only the prompts that were really in flight in doubt.
When the send is over, its outcome becomes the row's changes here too, and
is written only while this run still holds the row.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from scheduler.dispatch import policy
from scheduler.dispatch.bulk_sql import (
    array_cursor,
    default_connection,
    insert_ignoring_conflicts,
    pk_in,
    update_rows,
)
from scheduler.dispatch.conf import DispatchConf
from scheduler.dispatch.policy import next_attempt_delay
from scheduler.dispatch.recovery import flag_in_doubt, reclaimable_q
from scheduler.models import DispatchRun, PeerMentor, PromptHistory, PromptStatus, Scenario
from scheduler.rules import DuePrompt, describe

# The statuses a prompt ends in; `finished_at` records when it got there.
FINISHED = (PromptStatus.DISPATCHED, PromptStatus.FAILED, PromptStatus.SKIPPED)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClaimedPrompt:
    id: int
    peer_mentor_id: int
    scenario_id: int
    activity_id: int
    attempt: int  # this send's attempt number, set by Ledger.mark_sending (0 until then)
    title: str
    body: str


@dataclass(frozen=True)
class PromptResult:
    prompt: ClaimedPrompt
    status: PromptStatus
    error: str = ""
    retry_after: float | None = None
    dead_tokens: tuple[tuple[str, str], ...] = ()  # (token, reason)
    finished_at: datetime = field(default_factory=timezone.now)
    # The backend's configuration is wrong: the prompt waits and the run stops.
    misconfigured: bool = False
    # The push service said for sure: delivered, or refused for good. Only such a
    # result may replace the doubt another run put on the prompt meanwhile.
    definitive: bool = False


# What a run reads back of the rows it claimed: a ClaimedPrompt's fields, attempt aside.
CLAIMED_COLUMNS = ("id", "peer_mentor_id", "scenario_id", "activity_id", "title", "body")


def claimed_prompt(
    pk: int, peer_mentor_id: int, scenario_id: int, activity_id: int, title: str, body: str
) -> ClaimedPrompt:
    return ClaimedPrompt(pk, peer_mentor_id, scenario_id, activity_id, 0, title, body)


def in_batch_order(
    batch: Sequence[DuePrompt], claimed: Iterable[ClaimedPrompt]
) -> list[ClaimedPrompt]:
    """The claimed prompts of the batch, oldest due first; any other row is left out."""
    position = {(p.scenario_id, p.activity_id): i for i, p in enumerate(batch)}
    mine = [c for c in claimed if (c.scenario_id, c.activity_id) in position]
    return sorted(mine, key=lambda c: position[(c.scenario_id, c.activity_id)])


def history_changes(result: PromptResult) -> dict[str, object]:
    """The columns a result writes on its history row."""
    changes: dict[str, object] = {"status": result.status, "last_error": result.error[:2000]}
    if result.status == PromptStatus.DISPATCHED:
        changes["dispatched_at"] = result.finished_at
    if result.status in FINISHED:
        changes["finished_at"] = result.finished_at
    if result.misconfigured:
        # Not the prompt's fault: the attempt does not count against it.
        changes["attempts"] = result.prompt.attempt - 1
    if result.status == PromptStatus.RETRY:
        changes["next_attempt_at"] = result.finished_at + next_attempt_delay(
            result.prompt.attempt, result.retry_after
        )
    return changes


def checked_changes(result: PromptResult) -> tuple[PromptResult, dict[str, object]]:
    """`history_changes`, with whatever a response made unusable turned into a plain retry.

    Everything here comes from a remote server: an absurd value must cost this
    prompt a normal retry, never the run.
    """
    try:
        return result, history_changes(result)
    except Exception:
        logger.exception("unusable result for prompt %s; it is retried", result.prompt.id)
        fallback = PromptResult(result.prompt, PromptStatus.RETRY, result.error)
        return fallback, {
            "status": fallback.status,
            "last_error": fallback.error[:2000],
            "next_attempt_at": fallback.finished_at
            + timedelta(seconds=settings.DISPATCH_RETRY_BASE_SECONDS),
        }


def drop_broken_connection() -> None:
    """After a failed statement, close the connection if it is dead, so the next
    statement opens a new one: a run has no request end at which Django would."""
    if connection.connection is None or connection.in_atomic_block:
        return
    if not connection.is_usable():
        connection.close()


# The primary keys pick a wave's rows; the run only confirms they are still ours.
# `+ 0` keeps the planner off the run's index: with statistics from when the
# table was small it would otherwise scan every row of the run per statement.
OWNED_BY_RUN = "run_id + 0 = %s"


class Ledger:
    """The run's side of the history table: claim, mark sending, record."""

    def __init__(
        self, run: DispatchRun, scenarios: dict[int, Scenario], conf: DispatchConf | None = None
    ) -> None:
        self.run = run
        self.conf = conf or DispatchConf.from_settings()
        self.scenarios = scenarios
        # What a prompt keeps of its scenario, as it was when the prompt was claimed.
        self._texts = {
            pk: {"rule_sentence": describe(s), "title": s.title, "body": s.body}
            for pk, s in scenarios.items()
        }
        # New prompts the daily cap turned away at the claim (another run took the slot).
        self.capped = 0

    def claim(self, batch: Sequence[DuePrompt], now: datetime) -> list[ClaimedPrompt]:
        """The batch's prompts this run holds now, in the batch's (oldest due first) order."""
        if not batch:
            return []
        new = [p for p in batch if p.history_id is None]
        reclaimable = [p.history_id for p in batch if p.history_id is not None]
        inserted = self._insert(new, now) if new else []
        if reclaimable:
            self._take_over(reclaimable, now)
        if reclaimable:
            inserted = self._owned(batch)
        return in_batch_order(batch, inserted)

    def _insert(self, prompts: Sequence[DuePrompt], now: datetime) -> list[ClaimedPrompt]:
        if self.conf.daily_cap:
            with transaction.atomic():
                prompts = self._within_daily_cap(prompts, now)
                return self._insert_rows(prompts, now)
        return self._insert_rows(prompts, now)

    def _within_daily_cap(self, prompts: Sequence[DuePrompt], now: datetime) -> list[DuePrompt]:
        """The prompts that still have a slot today, counted under a lock on their mentors.

        Every claiming run locks a batch's mentors in id order before counting,
        so runs over different scenarios cannot both take a mentor's last slot
        (and cannot deadlock); on SQLite the IMMEDIATE transaction serialises
        them. A prompt already claimed by another run takes no slot here.
        """
        limit = self.conf.daily_cap
        mentor_ids = sorted({p.peer_mentor_id for p in prompts})
        list(
            PeerMentor.objects.select_for_update()
            .filter(pk__in=mentor_ids)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        used = policy.slots_used(mentor_ids, policy.local_day_start(now))
        taken = set(
            PromptHistory.objects.filter(
                peer_mentor_id__in=mentor_ids, activity_id__in={p.activity_id for p in prompts}
            ).values_list("scenario_id", "activity_id")
        )
        within: list[DuePrompt] = []
        for prompt in prompts:
            if (prompt.scenario_id, prompt.activity_id) in taken:
                continue
            if used[prompt.peer_mentor_id] >= limit:
                self.capped += 1
                continue
            used[prompt.peer_mentor_id] += 1
            within.append(prompt)
        return within

    def _insert_rows(self, prompts: Sequence[DuePrompt], now: datetime) -> list[ClaimedPrompt]:
        common = {
            "status": PromptStatus.PENDING,
            "created_at": now,
            "claimed_at": now,
            "run_id": self.run.pk,
        }
        rows = [
            {
                "peer_mentor_id": p.peer_mentor_id,
                "scenario_id": p.scenario_id,
                "activity_id": p.activity_id,
                "due_at": p.due_at,
                **self._texts[p.scenario_id],
            }
            for p in prompts
        ]
        # A row another run inserted first is silently left to that run.
        inserted = insert_ignoring_conflicts(PromptHistory, common, rows, returning=CLAIMED_COLUMNS)
        return [claimed_prompt(*row) for row in inserted]

    def _take_over(self, history_ids: Sequence[int], now: datetime) -> None:
        with transaction.atomic():
            # Row locks on PostgreSQL; SQLite's IMMEDIATE transaction serialises writers.
            ids = list(
                PromptHistory.objects.select_for_update(skip_locked=True)
                .filter(reclaimable_q(now), pk__in=history_ids)
                .values_list("pk", flat=True)
            )
            PromptHistory.objects.filter(pk__in=ids).update(
                status=PromptStatus.PENDING,
                run=self.run,
                claimed_at=now,
                sending_started_at=None,
                next_attempt_at=None,
            )

    def _owned(self, batch: Sequence[DuePrompt]) -> list[ClaimedPrompt]:
        """The batch's rows this run holds now and has not started sending."""
        rows = PromptHistory.objects.filter(
            run=self.run,
            status=PromptStatus.PENDING,
            sending_started_at__isnull=True,
            activity_id__in={p.activity_id for p in batch},
        ).values_list(*CLAIMED_COLUMNS)
        return [claimed_prompt(*row) for row in rows]

    def mark_sending(self, prompts: Sequence[ClaimedPrompt], now: datetime) -> list[ClaimedPrompt]:
        """Compare-and-set just before the requests: the prompts this run may send now.

        One statement for the whole wave; a prompt another run took over is
        left out. The rows it marked come back with their attempt numbers.
        """
        if not prompts:
            return []
        attempt = self._mark_sending([p.id for p in prompts], now)
        return [replace(p, attempt=attempt[p.id]) for p in prompts if p.id in attempt]

    def _mark_sending(self, ids: list[int], now: datetime) -> dict[int, int]:
        # Raw SQL because QuerySet.update() cannot return rows; at high
        # concurrency this statement runs for every few prompts.
        db = default_connection()
        table = db.ops.quote_name(PromptHistory._meta.db_table)
        wave, wave_params = pk_in(PromptHistory, ids, db)  # see bulk_sql: one binary array
        cursor = array_cursor(db) if db.vendor == "postgresql" else db.cursor()
        sql = (
            f"UPDATE {table} SET sending_started_at = %s, attempts = attempts + 1 "
            f"WHERE {OWNED_BY_RUN} AND status = %s AND sending_started_at IS NULL "
            f"AND {wave} RETURNING id, attempts"
        )
        started = db.ops.adapt_datetimefield_value(now)
        with cursor:
            cursor.execute(sql, [started, self.run.pk, PromptStatus.PENDING.value, *wave_params])
            return dict(cursor.fetchall())

    def record(self, results: Sequence[PromptResult]) -> list[tuple[PromptResult, bool]]:
        """6. Each outcome on its own row; a failure is logged, never raised.

        A wave is written in one statement; if that fails, each row is tried
        on its own so one bad row costs only itself. Returns each result as
        recorded (one whose changes could not be worked out is a plain retry)
        with whether its row was written: an outcome whose row this run no
        longer holds (another run put it in doubt, and the outcome cannot
        settle that) is left out.
        """
        checked = [checked_changes(r) for r in results]
        if not checked:
            return []
        left_out = self._write(checked)
        if left_out:
            logger.warning(
                "%d late results not recorded: another run holds the prompts or put them in doubt",
                len(left_out),
            )
        return [(result, result.prompt.id not in left_out) for result, _ in checked]

    def _write(self, checked: list[tuple[PromptResult, dict[str, object]]]) -> set[int]:
        """The wave's rows in one statement, or one by one if that fails; returns those left out."""
        definitive = {r.prompt.id for r, _ in checked if r.definitive}
        try:
            return self.write_rows(
                {r.prompt.id: changes for r, changes in checked}, definitive=definitive
            )
        except Exception:
            drop_broken_connection()
        left_out: set[int] = set()
        for result, changes in checked:
            try:
                left_out |= self.write_rows({result.prompt.id: changes}, definitive=definitive)
            except Exception:
                logger.exception(
                    "could not record prompt %s as %s", result.prompt.id, result.status
                )
        return left_out

    def write_rows(
        self, changes_by_id: dict[int, dict[str, object]], *, definitive: Collection[int] = ()
    ) -> set[int]:
        """Each prompt's changes on its own row, the rows of one wave in one statement.

        Only a row this run still holds is written: pending, or flagged in
        doubt by a run that took this one for dead. On a row in doubt only a
        `definitive` outcome (delivered, or refused for good) replaces the
        doubt; a timeout or a transient error says nothing about whether the
        push service got the prompt, and a retry would send it twice.
        Returns the prompts whose row was left as it was.
        """
        settled = [pk for pk in definitive if pk in changes_by_id]
        settles, settled_params = (
            pk_in(PromptHistory, settled, default_connection()) if settled else ("FALSE", [])
        )
        # One statement for the wave: at high concurrency a statement per row
        # is what limits the run. The row's state decides, in that statement.
        written = update_rows(
            PromptHistory,
            changes_by_id,
            where=f"{OWNED_BY_RUN} AND (status = %s OR (needs_review AND {settles}))",
            params=[self.run.pk, PromptStatus.PENDING.value, *settled_params],
            also={"needs_review": False},
        )
        return set(changes_by_id) - written

    def release(self, prompts: Iterable[ClaimedPrompt], now: datetime) -> None:
        """Give back claims that were never sent so the next run takes them at once."""
        unsent = PromptHistory.objects.filter(
            pk__in=[p.id for p in prompts],
            run=self.run,
            status=PromptStatus.PENDING,
            sending_started_at__isnull=True,
        )
        # A never-tried prompt simply disappears from the history and is due again.
        unsent.filter(attempts=0).delete()
        unsent.filter(attempts__gt=0).update(status=PromptStatus.RETRY, next_attempt_at=now)

    def give_up_on(self, prompts: Iterable[ClaimedPrompt]) -> int:
        """Sends still stuck when the run must end: in doubt now, not after the stale timeout."""
        return flag_in_doubt(
            PromptHistory.objects.filter(
                pk__in=[p.id for p in prompts], run=self.run, status=PromptStatus.PENDING
            )
        )
