"""Who owns a prompt. The history table is the lock.

New prompts are claimed by inserting their PromptHistory row: the unique
constraint on (peer_mentor, scenario, activity) lets exactly one run insert it,
and a run sends only rows it inserted itself. Rows that come back (retries,
claims abandoned by a crashed run) are taken with a compare-and-set update.
Just before the first request, `sending_started_at` is set the same way, so a
crash can leave only the prompts that were really in flight in doubt.
When the send is over, its outcome becomes the row's changes here too, and
is written only while this run still holds the row.

The claim, the mark and the record are one statement per wave without the
ORM's cost per row (at high concurrency the loop writes a few hundred rows a
second from one thread); columns, defaults and conversions still come from the
model's fields. On PostgreSQL a wave's values travel as one binary array per
column (`unnest`), bound by the server: the statement's text stays the same
from wave to wave, and an array in binary costs a fraction of quoting each
value into the text. RETURNING needs SQLite 3.35 (`scheduler.checks`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper

from scheduler.dispatch import policy
from scheduler.dispatch.conf import DispatchConf
from scheduler.dispatch.policy import next_attempt_delay
from scheduler.dispatch.recovery import reclaimable_q
from scheduler.dispatch.sending import ClaimedPrompt, PromptResult
from scheduler.due_prompts import DuePrompt
from scheduler.models import FINISHED_STATUSES, DispatchRun, PromptHistory, PromptStatus, Scenario
from scheduler.rules import describe

logger = logging.getLogger(__name__)


# What a run reads back of the rows it claimed: a ClaimedPrompt's fields, attempt aside.
CLAIMED_COLUMNS = ("id", "peer_mentor_id", "scenario_id", "activity_id", "title", "body")


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
            inserted = self._owned(batch)
        return in_batch_order(batch, inserted)

    def _insert(self, prompts: Sequence[DuePrompt], now: datetime) -> list[ClaimedPrompt]:
        if self.conf.daily_cap:
            with transaction.atomic():
                prompts, capped = policy.within_daily_cap(prompts, now, self.conf.daily_cap)
                self.capped += capped
                return self._insert_rows(prompts, now)
        return self._insert_rows(prompts, now)

    def _insert_rows(self, prompts: Sequence[DuePrompt], now: datetime) -> list[ClaimedPrompt]:
        common = {"status": PromptStatus.PENDING, "created_at": now, "claimed_at": now}
        common["run_id"] = self.run.pk
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
        return [ClaimedPrompt(*row) for row in insert_claims(common, rows)]

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
        return [ClaimedPrompt(*row) for row in rows]

    def mark_sending(self, prompts: Sequence[ClaimedPrompt], now: datetime) -> list[ClaimedPrompt]:
        """Compare-and-set just before the requests: the prompts this run may send now.

        One statement for the whole wave; a prompt another run took over is
        left out. The rows it marked come back with their attempt numbers.
        """
        if not prompts:
            return []
        db = connections[DEFAULT_DB_ALIAS]
        wave, wave_params = pk_in([p.id for p in prompts], db)
        sql = (
            f"UPDATE {table(db)} SET sending_started_at = %s, attempts = attempts + 1 "
            f"WHERE {OWNED_BY_RUN} AND status = %s AND sending_started_at IS NULL "
            f"AND {wave} RETURNING id, attempts"
        )
        started = db.ops.adapt_datetimefield_value(now)
        with cursor_for(db) as cursor:
            cursor.execute(sql, [started, self.run.pk, PromptStatus.PENDING.value, *wave_params])
            attempt = dict(cursor.fetchall())
        return [replace(p, attempt=attempt[p.id]) for p in prompts if p.id in attempt]

    def record(self, results: Sequence[PromptResult]) -> list[tuple[PromptResult, bool]]:
        """6. Each outcome on its own row, a wave in one statement; logged, never raised.

        If the statement fails each row is tried alone, so a bad row costs only
        itself. Returns each result as recorded (one whose changes could not be
        worked out is a plain retry) with whether its row was written.
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
        return set(changes_by_id) - update_outcomes(self.run.pk, changes_by_id, settled)


# An outcome becomes its row.


def history_changes(result: PromptResult) -> dict[str, object]:
    """The columns a result writes on its history row."""
    changes: dict[str, object] = {"status": result.status, "last_error": result.error[:2000]}
    if result.status == PromptStatus.DISPATCHED:
        changes["dispatched_at"] = result.finished_at
    if result.status in FINISHED_STATUSES:
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


def in_batch_order(
    batch: Sequence[DuePrompt], claimed: Iterable[ClaimedPrompt]
) -> list[ClaimedPrompt]:
    """The claimed prompts of the batch, oldest due first; any other row is left out."""
    position = {(p.scenario_id, p.activity_id): i for i, p in enumerate(batch)}
    mine = [c for c in claimed if (c.scenario_id, c.activity_id) in position]
    return sorted(mine, key=lambda c: position[(c.scenario_id, c.activity_id)])


def drop_broken_connection() -> None:
    """After a failed statement, close the connection if it is dead, so the next
    statement opens a new one: a run has no request end at which Django would."""
    if connection.connection is None or connection.in_atomic_block:
        return
    if not connection.is_usable():
        connection.close()


# The statements. Each takes the thread's connection itself once: `django.db.connection`
# is a proxy that looks it up on every attribute, which at a few hundred values per
# statement costs more than converting the values.


def insert_claims(
    common: Mapping[str, object], rows: Sequence[Mapping[str, object]]
) -> list[tuple[Any, ...]]:
    """INSERT the claims, skipping any row another run inserted first; returns the claimed.

    Each row names the same columns; `common` holds the values every row
    shares; any other column gets its field's default, as `bulk_create` would.
    """
    if not rows:
        return []
    db = connections[DEFAULT_DB_ALIAS]
    fields = [f for f in PromptHistory._meta.concrete_fields if not f.primary_key]
    varying = [f for f in fields if f.attname in rows[0]]
    fixed = [f for f in fields if f.attname not in rows[0]]
    fixed_values = [
        f.get_db_prep_save(common[f.attname] if f.attname in common else f.get_default(), db)
        for f in fixed
    ]
    insert = f"INSERT INTO {table(db)} ({', '.join(column(f, db) for f in [*varying, *fixed])})"
    end = f"ON CONFLICT DO NOTHING RETURNING {', '.join(CLAIMED_COLUMNS)}"
    if db.vendor == "postgresql":
        scalars = "".join(f", %s::{cast_type(f, db)}" for f in fixed)
        arrays = ", ".join(array_of(f, db) for f in varying)
        params = [*fixed_values, *(values_of(f, [r[f.attname] for r in rows], db) for f in varying)]
        with cursor_for(db) as cursor:
            cursor.execute(f"{insert} SELECT *{scalars} FROM unnest({arrays}) {end}", params)
            return cursor.fetchall()
    size = max(db.ops.bulk_batch_size(fields, rows), 1)
    inserted: list[tuple[Any, ...]] = []
    with db.cursor() as cursor:
        for first in range(0, len(rows), size):
            chunk = rows[first : first + size]
            params = [
                v for r in chunk for v in [*(prepared(f, r, db) for f in varying), *fixed_values]
            ]
            cursor.execute(f"{insert} VALUES {placeholders(len(chunk), len(fields))} {end}", params)
            inserted += cursor.fetchall()
    return inserted


def update_outcomes(
    run_pk: int, changes_by_id: Mapping[int, Mapping[str, object]], settled: Sequence[int]
) -> set[int]:
    """One UPDATE giving each row its outcome's changes, on the rows this run still holds.

    A column a row has no value (or None) for keeps the row's own: recording an
    outcome never clears a column. Returns the rows written, from the statement.
    """
    if not changes_by_id:
        return set()
    db = connections[DEFAULT_DB_ALIAS]
    ids = list(changes_by_id)
    names = sorted({name for changes in changes_by_id.values() for name in changes})
    fields = [field_of(name) for name in names]
    by_column = [values_of(f, [changes_by_id[pk].get(f.name) for pk in ids], db) for f in fields]
    assignments = "".join(
        f"{column(f, db)} = COALESCE(wave.value_{n}, {table(db)}.{column(f, db)}), "
        for n, f in enumerate(fields)
    )
    wave = f"wave(row_pk{''.join(f', value_{n}' for n in range(len(fields)))})"
    settles, settled_params = pk_in(settled, db) if settled else ("FALSE", [])
    update = f"UPDATE {table(db)} SET {assignments}needs_review = %s FROM"
    end = (
        f"WHERE {table(db)}.id = wave.row_pk AND {OWNED_BY_RUN} AND "
        f"(status = %s OR (needs_review AND {settles})) RETURNING {table(db)}.id"
    )
    where_params = [run_pk, PromptStatus.PENDING.value, *settled_params]
    if db.vendor == "postgresql":
        arrays = ", ".join(array_of(f, db) for f in [field_of("id"), *fields])
        sql = f"{update} unnest({arrays}) AS {wave} {end}"
        params = [False, ids, *by_column, *where_params]
    else:
        sql = (
            f"WITH {wave} AS (VALUES {placeholders(len(ids), len(fields) + 1)}) {update} wave {end}"
        )
        params = [v for i, pk in enumerate(ids) for v in (pk, *(c[i] for c in by_column))]
        params += [False, *where_params]
    with cursor_for(db) as cursor:
        cursor.execute(sql, params)
        return {pk for (pk,) in cursor.fetchall()}


def cursor_for(db: BaseDatabaseWrapper) -> CursorWrapper:
    """On PostgreSQL a cursor that binds on the server, so `%b` sends a parameter in binary.

    It is the cursor Django uses with the `server_side_binding` option, wrapped
    the same way (errors, query log), on the connection's usual transaction.
    """
    if db.vendor != "postgresql":
        return db.cursor()
    from django.db.backends.postgresql.base import ServerBindingCursor

    db.ensure_connection()
    cursor: Any = ServerBindingCursor(db.connection)  # type: ignore[call-arg]
    return db.make_debug_cursor(cursor) if db.queries_logged else db.make_cursor(cursor)


def pk_in(ids: Sequence[int], db: BaseDatabaseWrapper) -> tuple[str, list[Any]]:
    """`id IN (ids)` and its parameters: on PostgreSQL one binary array."""
    if db.vendor == "postgresql":
        return f"id = ANY({array_of(field_of('id'), db)})", [list(ids)]
    return f"id IN ({', '.join(['%s'] * len(ids))})", list(ids)


def placeholders(rows: int, columns: int) -> str:
    row = "(" + ", ".join(["%s"] * columns) + ")"
    return ", ".join([row] * rows)


def array_of(field: models.Field[Any, Any], db: BaseDatabaseWrapper) -> str:
    # Without its length: a cast to varchar(n) would cut a long value short,
    # where storing it in the column refuses it, as the ORM's insert would.
    return f"%b::{cast_type(field, db)}[]"


def cast_type(field: models.Field[Any, Any], db: BaseDatabaseWrapper) -> str:
    return re.sub(r"\(.*\)", "", field.cast_db_type(db) or "")


def values_of(
    field: models.Field[Any, Any], values: Iterable[object], db: BaseDatabaseWrapper
) -> list[object]:
    prepare = field.get_db_prep_save
    return [None if v is None else prepare(v, db) for v in values]


def prepared(field: models.Field[Any, Any], row: Mapping[str, object], db: Any) -> object:
    return field.get_db_prep_save(row[field.attname], db)


def field_of(name: str) -> models.Field[Any, Any]:
    field = PromptHistory._meta.get_field(name)
    assert isinstance(field, models.Field), name
    return field


def table(db: BaseDatabaseWrapper) -> str:
    return db.ops.quote_name(PromptHistory._meta.db_table)


def column(field: models.Field[Any, Any], db: BaseDatabaseWrapper) -> str:
    return db.ops.quote_name(field.column or field.name)
