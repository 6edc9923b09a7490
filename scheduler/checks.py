"""System checks: a selected push backend must have what it needs, the API's key set must come
over https, dispatch settings must be possible, and a SQLite database must be new enough for
the claim's RETURNING."""

from __future__ import annotations

import math
from sqlite3 import dbapi2
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.db import DatabaseError
from django.utils.module_loading import import_string

from scheduler.push import BACKEND_ALIASES, backend_path, config

# With 0 of any of these a run sends nothing, never retries, never stops claiming,
# or loses its lease before its first claim.
WHOLE_NUMBERS_FROM_ONE = (
    "DISPATCH_CONCURRENCY",
    "DISPATCH_BATCH_SIZE",
    "DISPATCH_MAX_ATTEMPTS",
    "DISPATCH_RETRY_BASE_SECONDS",
    "DISPATCH_RETRY_MAX_SECONDS",
    "DISPATCH_STALE_CLAIM_SECONDS",
    "DISPATCH_LEASE_SECONDS",
    "DISPATCH_RUN_DEADLINE_SECONDS",
    "DISPATCH_INTERVAL_MINUTES",
    "DISPATCH_SHARDS",
    "DISPATCH_RUN_RETENTION_DAYS",
    "LOGIN_ALERT_FAILURES_PER_USERNAME",
)
# DispatchRun stores a shard's index in a small integer; far more shards than any deployment has
# workers would only queue behind each other.
MAX_SHARDS = 256
# The claim and the mark before sending read back the rows they changed with
# `RETURNING`, which SQLite has from 3.35 on (Debian 12 ships 3.40).
MIN_SQLITE_VERSION = (3, 35)
SQLITE_ENGINE = "django.db.backends.sqlite3"
POSITIVE_SECONDS = (
    "PUSH_CONNECT_TIMEOUT_SECONDS",
    "PUSH_READ_TIMEOUT_SECONDS",
    "PUSH_REQUEST_DEADLINE_SECONDS",
)


@register()
def check_push_backend(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    name = settings.PUSH_BACKEND
    try:
        backend_class = import_string(backend_path(name))
    except ImportError:
        return [
            Error(
                f"PUSH_BACKEND {name!r} is neither one of {', '.join(BACKEND_ALIASES)} "
                "nor an importable class.",
                id="scheduler.E001",
            )
        ]
    # A class given by dotted path need not derive from BasePushBackend.
    check = getattr(backend_class, "check", None)
    return list(check()) if callable(check) else []


@register()
def check_api_key_set_url(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The API fetches its token keys from SUPABASE_URL: https, whatever the push backend.

    Keys fetched in clear text could be swapped on the way, and then anyone
    could sign a token the API accepts. With the Supabase push backend its own
    check already reports the same URL.
    """
    if not settings.SUPABASE_URL.strip() or "SUPABASE_URL" in push_backend_requires():
        return []
    return config.service_url_check(
        "SUPABASE_URL",
        hint="The mentor app API fetches its key set from it: "
        "https://<project-ref>.supabase.co, or leave it empty when the API is not used.",
    )


def push_backend_requires() -> tuple[str, ...]:
    try:
        backend_class = import_string(backend_path(settings.PUSH_BACKEND))
    except ImportError:
        return ()
    return tuple(getattr(backend_class, "required_settings", ()))


@register()
def check_dispatch_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = [
        Error(
            f"{name} is {getattr(settings, name)!r}; it must be a whole number of at least 1.",
            hint=f"Set {name} in the environment or .env, or leave it unset for the default.",
            id="scheduler.E006",
        )
        for name in WHOLE_NUMBERS_FROM_ONE
        if not is_whole_number_from_one(getattr(settings, name))
    ]
    errors += [
        Error(
            f"{name} is {getattr(settings, name)!r}; it must be a number of seconds above 0.",
            hint=f"Set {name} in the environment or .env, or leave it unset for the default.",
            id="scheduler.E007",
        )
        for name in POSITIVE_SECONDS
        if not is_positive_number(getattr(settings, name))
    ]
    if not errors and settings.DISPATCH_SHARDS > MAX_SHARDS:
        errors.append(
            Error(
                f"DISPATCH_SHARDS is {settings.DISPATCH_SHARDS}; at most {MAX_SHARDS} shards.",
                hint="Each shard is a run of its own on a worker; more shards than workers "
                "across the clusters only wait for each other.",
                id="scheduler.E010",
            )
        )
    if not errors and settings.DISPATCH_RETRY_BASE_SECONDS > settings.DISPATCH_RETRY_MAX_SECONDS:
        errors.append(
            Error(
                f"DISPATCH_RETRY_BASE_SECONDS ({settings.DISPATCH_RETRY_BASE_SECONDS}) is "
                f"above DISPATCH_RETRY_MAX_SECONDS ({settings.DISPATCH_RETRY_MAX_SECONDS}).",
                hint="The first wait between attempts cannot be longer than the longest.",
                id="scheduler.E008",
            )
        )
    return errors


def is_whole_number_from_one(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def is_positive_number(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


@register()
def check_sqlite_version(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Refuse a SQLite library too old for `RETURNING` before anything is claimed."""
    # The library Django's SQLite backend loads; no connection needed to read it.
    version = dbapi2.sqlite_version_info
    if version >= MIN_SQLITE_VERSION:
        return []
    return [
        Error(
            f"Database {alias!r} is SQLite {'.'.join(map(str, version))}; the scheduler needs "
            f"SQLite {'.'.join(map(str, MIN_SQLITE_VERSION))} or later (for RETURNING).",
            hint="Upgrade SQLite (Debian 12 ships 3.40) or point DATABASE_URL at PostgreSQL.",
            id="scheduler.E009",
        )
        for alias, database in settings.DATABASES.items()
        if database.get("ENGINE") == SQLITE_ENGINE
    ]


@register(Tags.database)
def check_working_day_calendars(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[CheckMessage]:
    """A chapter whose closed periods leave no working day within a year gets no
    working-day prompt at all: say so before a coordinator wonders why."""
    if not databases:
        return []
    from django.utils import timezone

    from scheduler.workdays import Calendars, NoWorkingDay

    try:
        calendars = Calendars.load()
    except DatabaseError:
        return []  # not migrated yet: nothing to check
    today = timezone.localdate()
    errors: list[CheckMessage] = []
    for chapter_id, calendar in calendars.all():
        try:
            calendar.first_working_day(today)
        except NoWorkingDay:
            which = "every chapter" if chapter_id is None else f"chapter {chapter_id}"
            errors.append(
                Error(
                    f"The closed periods for {which} leave no working day within a year of "
                    f"{today.isoformat()}: working-day scenarios send nothing there.",
                    hint="Shorten or remove a ClosedPeriod in the admin.",
                    id="scheduler.E020",
                )
            )
    return errors


@register(Tags.database)
def check_coordinator_emails(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[CheckMessage]:
    """Escalations are emailed: a coordinator without an address only sees them in the admin.

    It reads the database, so it runs where Django runs database checks:
    `migrate` and `check --database default`.
    """
    from django.db import DatabaseError

    from scheduler.models import Coordinator, Scenario

    if not databases:
        return []
    try:
        if not Scenario.objects.filter(escalate_after_days__isnull=False).exists():
            return []
        silent = (
            Coordinator.objects.filter(user__is_active=True, chapters__isnull=False)
            .filter(user__email__regex=r"^\s*$")
            .values_list("user__username", flat=True)
            .distinct()
            .order_by("user__username")
        )
        names = list(silent)
    except DatabaseError:  # not migrated yet, or no database: nothing to say
        return []
    found: list[CheckMessage] = []
    if not settings.SITE_URL:
        found.append(
            Warning(
                "SITE_URL is not set: the links in escalation emails are paths without a host.",
                hint="Set SITE_URL to the admin's scheme and host, e.g. https://varsler.example.org.",
                id="scheduler.W011",
            )
        )
    if not names:
        return found
    return [
        *found,
        Warning(
            f"Coordinators without an email address get no escalation emails "
            f"(they still see them in the admin): {', '.join(names)}.",
            hint="Give each coordinator's user an email address in the admin.",
            id="scheduler.W010",
        ),
    ]
