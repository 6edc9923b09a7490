"""Fast writes for the benchmark's own data: COPY on PostgreSQL, executemany on SQLite."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import islice

from django.core.management.color import no_style
from django.db import connection, models, transaction

from scheduler.models import (
    Activity,
    Chapter,
    ClosedPeriod,
    Coordinator,
    DeviceToken,
    DispatchRun,
    Escalation,
    PeerMentor,
    PromptHistory,
    Scenario,
)

# Children first, so a DELETE never has to check rows that are about to go anyway.
SCHEDULER_MODELS: tuple[type[models.Model], ...] = (
    Escalation,
    PromptHistory,
    DeviceToken,
    Activity,
    DispatchRun,
    ClosedPeriod,
    Scenario,
    PeerMentor,
    Coordinator,
    Chapter,
)

SQLITE_BATCH = 50_000


def insert_rows(
    model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[object]]
) -> int:
    """Insert plain value rows (datetimes aware, in Python form) into `model`'s table."""
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    if connection.vendor == "postgresql":
        return _copy(table, names, rows)
    return _executemany(model, table, names, columns, rows)


def _copy(table: str, names: str, rows: Iterable[Sequence[object]]) -> int:
    count = 0
    with (
        transaction.atomic(),
        connection.cursor() as cursor,
        cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def _executemany(
    model: type[models.Model],
    table: str,
    names: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[object]],
) -> int:
    fields = [model._meta.get_field(c.removesuffix("_id")) for c in columns]
    adapt = [_adapter(f) for f in fields]
    placeholders = ", ".join(["%s"] * len(columns))
    sql = f"INSERT INTO {table} ({names}) VALUES ({placeholders})"
    iterator = iter(rows)
    count = 0
    with transaction.atomic(), connection.cursor() as cursor:
        while batch := list(islice(iterator, SQLITE_BATCH)):
            cursor.executemany(
                sql, [[a(v) for a, v in zip(adapt, row, strict=True)] for row in batch]
            )
            count += len(batch)
    return count


def _adapter(field: models.Field) -> object:
    if isinstance(field, models.DateTimeField):
        return connection.ops.adapt_datetimefield_value
    return lambda value: value


def wipe_scheduler_tables() -> None:
    tables = [m._meta.db_table for m in SCHEDULER_MODELS]
    tables.append(Coordinator.chapters.through._meta.db_table)
    quoted = [connection.ops.quote_name(t) for t in tables]
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {', '.join(quoted)} RESTART IDENTITY")
        else:
            for table in [quoted[-1], *quoted[:-1]]:
                cursor.execute(f"DELETE FROM {table}")


def reset_sequences() -> None:
    """After rows with explicit ids, let the database hand out the next ones."""
    statements = connection.ops.sequence_reset_sql(no_style(), list(SCHEDULER_MODELS))
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


def analyze() -> None:
    """Fresh planner statistics, as a long-lived database has after autovacuum.

    On SQLite the bulk load also leaves a large write-ahead log that every read
    would consult; a long-lived database has long since checkpointed it.
    """
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
