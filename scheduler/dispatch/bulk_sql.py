"""Many-row writes for the dispatch loop, without the ORM's cost per row.

At high concurrency the loop writes a few hundred rows a second from one
thread; building a model instance or resolving a lookup per row costs more
than the statements themselves. Columns, defaults and value conversion still
come from the model's fields.

On PostgreSQL the rows travel as one binary array per column (`unnest`),
bound by the server: the statement's text stays the same from wave to wave,
so psycopg converts its placeholders once and caches that, and encoding an
array in binary costs a fraction of quoting each value into the text.
Django's default cursor binds on the client, which at a few hundred rows
per statement was most of the loop's time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper
from django.db.models.constants import OnConflict


def default_connection() -> BaseDatabaseWrapper:
    """The thread's default connection itself.

    `django.db.connection` is a proxy that looks the thread's connection up on
    every attribute; at a few hundred values per statement that lookup costs
    more than converting the values, so each statement fetches it once.
    """
    return connections[DEFAULT_DB_ALIAS]


def array_cursor(db: BaseDatabaseWrapper) -> CursorWrapper:
    """A PostgreSQL cursor that binds on the server, so `%b` sends a parameter in binary.

    It is the cursor Django uses with the `server_side_binding` option, wrapped
    the same way (errors, query log), on the connection's usual transaction.
    """
    from django.db.backends.postgresql.base import ServerBindingCursor

    db.ensure_connection()
    cursor: Any = ServerBindingCursor(db.connection)  # type: ignore[call-arg]
    if db.queries_logged:
        return db.make_debug_cursor(cursor)
    return db.make_cursor(cursor)


def array_of(field: models.Field[Any, Any], db: BaseDatabaseWrapper) -> str:
    """The placeholder of a binary array of the field's type, for `array_cursor`."""
    return f"%b::{_cast_type(field, db)}[]"


def pk_in(
    model: type[models.Model], ids: Sequence[int], db: BaseDatabaseWrapper
) -> tuple[str, list[Any]]:
    """`pk IN (ids)` and its parameters: on PostgreSQL one binary array, for `array_cursor`."""
    primary_key = model._meta.pk
    assert primary_key is not None
    column = _column(primary_key, db)
    if db.vendor == "postgresql":
        return f"{column} = ANY({array_of(primary_key, db)})", [list(ids)]
    return f"{column} IN ({', '.join(['%s'] * len(ids))})", list(ids)


def _cast_type(field: models.Field[Any, Any], db: BaseDatabaseWrapper) -> str:
    # Without its length: a cast to varchar(n) would cut a long value short,
    # where storing it in the column refuses it, as the ORM's insert would.
    return re.sub(r"\(.*\)", "", field.cast_db_type(db) or "")


def insert_ignoring_conflicts(
    model: type[models.Model],
    common: Mapping[str, object],
    rows: Sequence[Mapping[str, object]],
    *,
    returning: Sequence[str] = (),
) -> list[tuple[Any, ...]]:
    """INSERT the rows, skipping any that would break a unique constraint.

    Each row names the same columns (by attname); `common` holds values shared
    by every row; any other column gets its field's default, as in
    `bulk_create(ignore_conflicts=True)`. Returns the `returning` columns of
    the rows inserted (both databases have RETURNING: PostgreSQL, and SQLite
    from 3.35, which `scheduler.checks` requires).
    """
    if not rows:
        return []
    db = default_connection()
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    varying = [f for f in fields if f.attname in rows[0]]
    fixed = [f for f in fields if f.attname not in rows[0]]
    fixed_values = [
        f.get_db_prep_save(common[f.attname] if f.attname in common else f.get_default(), db)
        for f in fixed
    ]
    suffix = f" RETURNING {', '.join(returning)}" if returning else ""
    if db.vendor == "postgresql":
        return _insert_arrays(db, model, varying, fixed, fixed_values, rows, suffix)
    ops = db.ops
    columns = ", ".join(_column(f, db) for f in [*varying, *fixed])
    placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
    start = ops.insert_statement(on_conflict=OnConflict.IGNORE)
    end = ops.on_conflict_suffix_sql(fields, OnConflict.IGNORE, None, None) + suffix
    size = max(ops.bulk_batch_size(fields, rows), 1)
    inserted: list[tuple[Any, ...]] = []
    with db.cursor() as cursor:
        for first in range(0, len(rows), size):
            chunk = rows[first : first + size]
            params: list[Any] = []
            for row in chunk:
                params += [f.get_db_prep_save(row[f.attname], db) for f in varying]
                params += fixed_values
            values = ", ".join([placeholders] * len(chunk))
            cursor.execute(f"{start} {_table(model, db)} ({columns}) VALUES {values} {end}", params)
            if returning:
                inserted += cursor.fetchall()
    return inserted


def _insert_arrays(
    db: BaseDatabaseWrapper,
    model: type[models.Model],
    varying: Sequence[models.Field[Any, Any]],
    fixed: Sequence[models.Field[Any, Any]],
    fixed_values: Sequence[object],
    rows: Sequence[Mapping[str, object]],
    suffix: str,
) -> list[tuple[Any, ...]]:
    columns = ", ".join(_column(f, db) for f in [*varying, *fixed])
    arrays = ", ".join(array_of(f, db) for f in varying)
    scalars = "".join(f", %s::{_cast_type(f, db)}" for f in fixed)
    params: list[Any] = [_values_of(f, (row[f.attname] for row in rows), db) for f in varying]
    sql = (
        f"INSERT INTO {_table(model, db)} ({columns}) SELECT *{scalars} FROM unnest({arrays}) "
        f"ON CONFLICT DO NOTHING{suffix}"
    )
    statement_params: list[Any] = [*fixed_values, *params]
    with array_cursor(db) as cursor:
        cursor.execute(sql, statement_params)
        return cursor.fetchall() if suffix else []


def update_rows(
    model: type[models.Model],
    changes_by_id: Mapping[int, Mapping[str, object]],
    *,
    where: str,
    params: Sequence[Any] = (),
    also: Mapping[str, object] | None = None,
) -> set[int]:
    """One UPDATE giving each row (by primary key) its own changes, where `where` holds.

    A column every row sets to the same value is set plainly; otherwise each
    row gets its own value, and a row that does not change it keeps its own.
    `also` is set on every row. Returns the primary keys of the rows updated,
    from the statement itself (`RETURNING`).
    """
    if not changes_by_id:
        return set()
    db = default_connection()
    ids = list(changes_by_id)
    plain: list[str] = []
    plain_values: list[Any] = []
    per_row: dict[models.Field[Any, Any], dict[int, object]] = {}
    for name, by_row in _columns(changes_by_id).items():
        field = _field(model, name)
        distinct = set(by_row.values())
        if len(by_row) == len(ids) and len(distinct) == 1:
            plain.append(f"{_column(field, db)} = %s")
            plain_values.append(field.get_db_prep_save(distinct.pop(), db))
        else:
            per_row[field] = by_row
    for name, value in (also or {}).items():
        field = _field(model, name)
        plain.append(f"{_column(field, db)} = %s")
        plain_values.append(field.get_db_prep_save(value, db))
    if db.vendor == "postgresql":
        sql, values = _update_arrays(db, model, ids, per_row, plain, where)
        statement_params = [*plain_values, *values, *params]
        cursor = array_cursor(db)
    else:
        sql, values = _update_cases(db, model, ids, per_row, plain, where)
        statement_params = [*values, *plain_values, *params, *ids]
        cursor = db.cursor()
    sql += f" RETURNING {_table(model, db)}.{_column(model._meta.pk, db)}"
    with cursor:
        cursor.execute(sql, statement_params)
        return {pk for (pk,) in cursor.fetchall()}


def _update_cases(
    db: BaseDatabaseWrapper,
    model: type[models.Model],
    ids: Sequence[int],
    per_row: Mapping[models.Field[Any, Any], Mapping[int, object]],
    plain: Sequence[str],
    where: str,
) -> tuple[str, list[Any]]:
    """A `CASE` on the primary key for each column that differs between rows."""
    primary_key = _column(model._meta.pk, db)
    assignments: list[str] = []
    values: list[Any] = []
    for field, by_row in per_row.items():
        column = _column(field, db)
        whens = " ".join(["WHEN %s THEN %s"] * len(by_row))
        assignments.append(f"{column} = CASE {primary_key} {whens} ELSE {column} END")
        for pk, value in by_row.items():
            values += [pk, field.get_db_prep_save(value, db)]
    sql = (
        f"UPDATE {_table(model, db)} SET {', '.join([*assignments, *plain])} "
        f"WHERE ({where}) AND {primary_key} IN ({', '.join(['%s'] * len(ids))})"
    )
    return sql, values


def _update_arrays(
    db: BaseDatabaseWrapper,
    model: type[models.Model],
    ids: Sequence[int],
    per_row: Mapping[models.Field[Any, Any], Mapping[int, object]],
    plain: Sequence[str],
    where: str,
) -> tuple[str, list[Any]]:
    """The rows' values joined in as arrays; `given_N` says which rows change column N."""
    table = _table(model, db)
    primary_key = model._meta.pk
    assert primary_key is not None
    arrays = [array_of(primary_key, db)]
    names = ["row_pk"]
    values: list[Any] = [list(ids)]
    assignments: list[str] = []
    for n, (field, by_row) in enumerate(per_row.items()):
        column = _column(field, db)
        arrays += [array_of(field, db), "%b::boolean[]"]
        names += [f"value_{n}", f"given_{n}"]
        values += [
            _values_of(field, (by_row.get(pk) for pk in ids), db),
            [pk in by_row for pk in ids],
        ]
        assignments.append(
            f"{column} = CASE WHEN given_{n} THEN value_{n} ELSE {table}.{column} END"
        )
    sql = (
        f"UPDATE {table} SET {', '.join([*assignments, *plain])} "
        f"FROM unnest({', '.join(arrays)}) AS wave({', '.join(names)}) "
        f"WHERE {table}.{_column(primary_key, db)} = row_pk AND ({where})"
    )
    return sql, values


def _values_of(
    field: models.Field[Any, Any], values: Iterable[object], db: BaseDatabaseWrapper
) -> list[object]:
    prepare = field.get_db_prep_save
    return [None if v is None else prepare(v, db) for v in values]


def _table(model: type[models.Model], db: BaseDatabaseWrapper) -> str:
    return db.ops.quote_name(model._meta.db_table)


def _columns(
    changes_by_id: Mapping[int, Mapping[str, object]],
) -> dict[str, dict[int, object]]:
    """Column -> {row id: new value}, for the rows that change it."""
    by_column: dict[str, dict[int, object]] = {}
    for pk, changes in changes_by_id.items():
        for column, value in changes.items():
            by_column.setdefault(column, {})[pk] = value
    return by_column


def _field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field), name
    return field


def _column(field: models.Field[Any, Any] | None, db: BaseDatabaseWrapper) -> str:
    assert field is not None and field.column, field
    return db.ops.quote_name(field.column)
