"""Which database the benchmark may use, and creating its PostgreSQL database."""

from __future__ import annotations

import psycopg
from django.db import connection
from psycopg import sql

from bench import dataset


def postgres_database_exists(settings_dict: dict[str, object]) -> bool:
    with maintenance_connection(settings_dict) as conn:
        found = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [settings_dict["NAME"]]
        ).fetchone()
    return found is not None


def create_postgres_database(settings_dict: dict[str, object]) -> None:
    with maintenance_connection(settings_dict) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(settings_dict["NAME"])))


def maintenance_connection(settings_dict: dict[str, object]) -> psycopg.Connection:
    return psycopg.connect(
        host=settings_dict.get("HOST") or None,
        port=settings_dict.get("PORT") or None,
        user=settings_dict.get("USER") or None,
        password=settings_dict.get("PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
        connect_timeout=5,
    )


def reasons_to_refuse() -> list[str]:
    """Why this database does not look like the benchmark's own (empty: go ahead)."""
    if dataset.scheduler_tables_exist():
        return [f"{what} not created by the benchmark" for what in dataset.foreign_data()]
    others = connection.introspection.table_names()
    if others:
        return [f"{len(others)} table(s) of something else and no scheduler tables"]
    return []
