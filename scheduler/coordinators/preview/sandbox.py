"""The preview's sandbox: it writes to ask the scheduler's own queries, then undoes every write.

Inside `sandbox()` everything runs in a transaction that is rolled back. On
SQLite a transaction that writes holds the database's one write lock (and
`config.settings` begins every transaction IMMEDIATE, so it would hold it from
the start): a preview would block a dispatch run writing at the same time. So
on SQLite the sandbox puts TEMP tables in front of the tables a preview writes
and reads (an unqualified table name finds the `temp` schema first, and TEMP
tables belong to this connection alone), begins its transaction DEFERRED, and
drops the TEMP tables afterwards: the database file itself is only read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, cast

from django.db import connection, transaction
from django.db.models import Model

from scheduler.models import Activity, Chapter, DeviceToken, PeerMentor, PromptHistory

# What a simulation writes and its verdict reads, parents first: on SQLite a
# TEMP table's foreign keys point at TEMP tables. Chapters are copied, so a test
# mentor can join the scenario's chapter; the others start empty.
SHADOWED: tuple[type[Model], ...] = (Chapter, PeerMentor, DeviceToken, Activity, PromptHistory)
COPIED: tuple[type[Model], ...] = (Chapter,)


@contextmanager
def sandbox() -> Iterator[None]:
    """Everything written inside is rolled back; on SQLite the write lock is never taken."""
    with ExitStack() as stack:
        if connection.vendor == "sqlite":
            stack.enter_context(temp_shadows())
            stack.enter_context(deferred_begin())
        with transaction.atomic():
            yield
            transaction.set_rollback(True)


@contextmanager
def temp_shadows() -> Iterator[None]:
    """TEMP tables in front of the SHADOWED ones, dropped again however the block ends."""
    try:
        with connection.cursor() as cursor:
            for model in SHADOWED:
                create_shadow(cursor, model)
        yield
    finally:
        with connection.cursor() as cursor:
            for model in reversed(SHADOWED):
                cursor.execute(f"DROP TABLE IF EXISTS temp.{table_of(model)}")


@contextmanager
def deferred_begin() -> Iterator[None]:
    """Transactions begun inside take no lock until they write to the database file."""
    connection.ensure_connection()
    sqlite = cast("Any", connection)  # the SQLite backend's DatabaseWrapper
    mode = sqlite.transaction_mode
    sqlite.transaction_mode = "DEFERRED"
    try:
        yield
    finally:
        sqlite.transaction_mode = mode


def create_shadow(cursor: Any, model: type[Model]) -> None:
    """A TEMP table defined like the model's table (same columns, keys and constraints)."""
    table = table_of(model)
    cursor.execute(
        "SELECT sql FROM main.sqlite_master WHERE type = 'table' AND name = %s",
        [model._meta.db_table],
    )
    (definition,) = cursor.fetchone()
    # Without AUTOINCREMENT (ids are still given out): it would leave a TEMP
    # sqlite_sequence behind, in front of the database's own.
    definition = definition.replace("CREATE TABLE", "CREATE TEMP TABLE", 1)
    cursor.execute(definition.replace(" PRIMARY KEY AUTOINCREMENT", " PRIMARY KEY"))
    if model in COPIED:
        cursor.execute(f"INSERT INTO temp.{table} SELECT * FROM main.{table}")


def table_of(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)
