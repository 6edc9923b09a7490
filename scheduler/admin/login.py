"""The admin login behind a reverse proxy: whose address the login throttle counts."""

from __future__ import annotations

import ipaddress
from datetime import timedelta

from axes.helpers import get_cool_off
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

LOCKED_OUT_STATUS = 429


def client_ip_address(request: HttpRequest) -> str | None:
    """The address our proxy saw, the last one it appended to X-Forwarded-For.

    Entries before it come from the client and can be forged, so they are ignored.
    """
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    last = forwarded.rsplit(",", 1)[-1].strip()
    try:
        return str(ipaddress.ip_address(last))
    except ValueError:
        return request.META.get("REMOTE_ADDR")


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    """The page a locked-out login gets: 429, in the admin's language, no user name echoed."""
    cool_off = get_cool_off(request) or timedelta(0)
    context = {"cooloff_minutes": max(1, round(cool_off.total_seconds() / 60))}
    return render(request, "admin/locked_out.html", context, status=LOCKED_OUT_STATUS)
