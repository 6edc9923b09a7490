"""A SQLite library without RETURNING (before 3.35) is refused by a system check."""

from __future__ import annotations

from sqlite3 import dbapi2
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from scheduler.checks import SQLITE_ENGINE, check_sqlite_version

# The check reads settings.DATABASES only; no connection to these is opened.
SQLITE_DATABASES = {"default": {"ENGINE": SQLITE_ENGINE, "NAME": "db.sqlite3"}}
POSTGRES_DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "x"}}

pytestmark = pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")


def test_it_refuses_sqlite_before_3_35_naming_both_versions(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.DATABASES = SQLITE_DATABASES
    monkeypatch.setattr(dbapi2, "sqlite_version_info", (3, 34, 1))

    [error] = check_sqlite_version()

    assert error.id == "scheduler.E009"
    assert "SQLite 3.34.1" in error.msg
    assert "3.35 or later" in error.msg
    assert "PostgreSQL" in (error.hint or "")


@pytest.mark.parametrize("version", [(3, 35, 0), (3, 40, 1)])
def test_it_accepts_sqlite_from_3_35(
    settings: Any, monkeypatch: pytest.MonkeyPatch, version: tuple[int, int, int]
) -> None:
    settings.DATABASES = SQLITE_DATABASES
    monkeypatch.setattr(dbapi2, "sqlite_version_info", version)

    assert check_sqlite_version() == []


def test_it_leaves_postgresql_alone_whatever_sqlite_library_is_installed(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.DATABASES = POSTGRES_DATABASES
    monkeypatch.setattr(dbapi2, "sqlite_version_info", (3, 31, 1))

    assert check_sqlite_version() == []


def test_it_stops_manage_py_check(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.DATABASES = SQLITE_DATABASES
    monkeypatch.setattr(dbapi2, "sqlite_version_info", (3, 31, 1))

    with pytest.raises(SystemCheckError, match=r"scheduler\.E009.*SQLite 3\.31\.1"):
        call_command("check")
