"""Many-row writes for the dispatch loop, without the ORM's cost per row.

At high concurrency the loop writes a few hundred rows a second from one
thread; building a model instance or resolving a lookup per row costs more
than the statements themselves. Columns, defaults and value conversion still
come from the model's fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import connection, models
from django.db.models.constants import OnConflict


def insert_ignoring_conflicts(
    model: type[models.Model], common: Mapping[str, object], rows: Sequence[Mapping[str, object]]
) -> None:
    """INSERT the rows, skipping any that would break a unique constraint.

    Each row names the same columns (by attname); `common` holds values shared
    by every row; any other column gets its field's default, as in
    `bulk_create(ignore_conflicts=True)`.
    """
    if not rows:
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    varying = [f for f in fields if f.attname in rows[0]]
    fixed = [f for f in fields if f.attname not in rows[0]]
    fixed_values = [
        f.get_db_prep_save(
            common[f.attname] if f.attname in common else f.get_default(), connection
        )
        for f in fixed
    ]
    ops = connection.ops
    columns = ", ".join(_column(f) for f in [*varying, *fixed])
    placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
    start = ops.insert_statement(on_conflict=OnConflict.IGNORE)
    end = ops.on_conflict_suffix_sql(fields, OnConflict.IGNORE, None, None)
    size = max(ops.bulk_batch_size(fields, rows), 1)
    with connection.cursor() as cursor:
        for first in range(0, len(rows), size):
            chunk = rows[first : first + size]
            params: list[Any] = []
            for row in chunk:
                params += [f.get_db_prep_save(row[f.attname], connection) for f in varying]
                params += fixed_values
            values = ", ".join([placeholders] * len(chunk))
            table = ops.quote_name(model._meta.db_table)
            cursor.execute(f"{start} {table} ({columns}) VALUES {values} {end}", params)


def update_rows(
    model: type[models.Model],
    changes_by_id: Mapping[int, Mapping[str, object]],
    *,
    where: str,
    params: Sequence[Any] = (),
    also: Mapping[str, object] | None = None,
) -> int:
    """One UPDATE giving each row (by primary key) its own changes, where `where` holds.

    A column every row sets to the same value is set plainly; otherwise it is a
    `CASE` on the primary key, and a row that does not change it keeps its own
    value. `also` is set on every row. Returns the number of rows updated.
    """
    if not changes_by_id:
        return 0
    primary_key = _column(model._meta.pk)
    assignments: list[str] = []
    values: list[Any] = []
    for name, by_row in _columns(changes_by_id).items():
        field = _field(model, name)
        column = _column(field)
        distinct = set(by_row.values())
        if len(by_row) == len(changes_by_id) and len(distinct) == 1:
            assignments.append(f"{column} = %s")
            values.append(field.get_db_prep_save(distinct.pop(), connection))
            continue
        whens = " ".join(["WHEN %s THEN %s"] * len(by_row))
        assignments.append(f"{column} = CASE {primary_key} {whens} ELSE {column} END")
        for pk, value in by_row.items():
            values += [pk, field.get_db_prep_save(value, connection)]
    for name, value in (also or {}).items():
        field = _field(model, name)
        assignments.append(f"{_column(field)} = %s")
        values.append(field.get_db_prep_save(value, connection))
    ids = list(changes_by_id)
    sql = (
        f"UPDATE {connection.ops.quote_name(model._meta.db_table)} SET {', '.join(assignments)} "
        f"WHERE ({where}) AND {primary_key} IN ({', '.join(['%s'] * len(ids))})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, *params, *ids])
        rowcount: int = cursor.rowcount
    return rowcount


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


def _column(field: models.Field[Any, Any] | None) -> str:
    assert field is not None and field.column, field
    return connection.ops.quote_name(field.column)
