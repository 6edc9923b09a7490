"""The admin login throttle (django-axes): the lockout page, and the alert for one user name.

Logins are locked by address, and by user name together with address
(`AXES_LOCKOUT_PARAMETERS`), never by user name alone: anyone could otherwise
lock the real coordinator out by failing five times with their name. Guessing
one user name from many addresses is not locked either; it is reported: once
the failures for one name, from all addresses together within the cool-off,
reach `LOGIN_ALERT_FAILURES_PER_USERNAME`, a warning is logged (again at every
further multiple) and superusers see a banner on every admin page until it
cools off.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

LOCKED_OUT_STATUS = 429
# User names a banner lists at most.
ALERTS_SHOWN = 3


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    """The page a locked-out login gets: 429, in the admin's language, no user name echoed."""
    cool_off = get_cool_off(request) or timedelta(0)
    context = {"cooloff_minutes": max(1, round(cool_off.total_seconds() / 60))}
    return render(request, "admin/locked_out.html", context, status=LOCKED_OUT_STATUS)


@dataclass(frozen=True)
class UserNameUnderAttack:
    username: str
    failures: int
    addresses: int


def recent_attempts() -> QuerySet[AccessAttempt]:
    """Failed logins still inside the cool-off (axes deletes older ones as it goes)."""
    return AccessAttempt.objects.filter(
        attempt_time__gte=timezone.now() - settings.AXES_COOLOFF_TIME
    )


FAILURES = {
    "failures": Sum("failures_since_start"),
    "addresses": Count("ip_address", distinct=True),
}


def user_names_under_attack() -> list[UserNameUnderAttack]:
    """The user names whose failures reached the alert limit, most failures first (one query)."""
    rows = (
        recent_attempts()
        .values("username")
        .annotate(**FAILURES)
        .filter(failures__gte=settings.LOGIN_ALERT_FAILURES_PER_USERNAME)
        .order_by("-failures", "username")[:ALERTS_SHOWN]
    )
    return [UserNameUnderAttack(r["username"], r["failures"], r["addresses"]) for r in rows]


class AlertingDatabaseHandler(AxesDatabaseHandler):
    """axes' database handler, which also logs when one user name reaches the alert limit."""

    def user_login_failed(
        self, sender: Any, credentials: dict, request: HttpRequest | None = None, **kwargs: Any
    ) -> None:
        super().user_login_failed(sender, credentials, request=request, **kwargs)
        if request is None:
            return
        username = get_client_username(request, credentials)
        if username:
            warn_when_limit_reached(username)


def warn_when_limit_reached(username: str) -> None:
    totals = recent_attempts().filter(username=username).aggregate(**FAILURES)
    failures = totals["failures"] or 0
    if failures and failures % settings.LOGIN_ALERT_FAILURES_PER_USERNAME == 0:
        logger.warning(
            "%s failed admin logins for the user name %r from %s addresses within %s; "
            "the name is not locked (each address is, after AXES_FAILURE_LIMIT)",
            failures,
            username[:150],
            totals["addresses"],
            settings.AXES_COOLOFF_TIME,
        )


def login_alert_banner(request: HttpRequest) -> dict[str, Callable[[], str]]:
    """Context processor: for superusers, the user names under attack (queried only when shown)."""

    def text() -> str:
        if not getattr(getattr(request, "user", None), "is_superuser", False):
            return ""
        try:
            attacked = user_names_under_attack()
        except DatabaseError:
            return ""
        return " ".join(alert_text(alert) for alert in attacked)

    return {"login_alert_banner": text}


def alert_text(alert: UserNameUnderAttack) -> str:
    minutes = round(settings.AXES_COOLOFF_TIME.total_seconds() / 60)
    return _(
        "%(failures)s failed logins for the user name “%(username)s” from %(addresses)s "
        "addresses in the last %(minutes)s minutes. The name is not locked; see Axes → "
        "Access attempts."
    ) % {
        "failures": alert.failures,
        "username": alert.username[:150],
        "addresses": alert.addresses,
        "minutes": minutes,
    }
