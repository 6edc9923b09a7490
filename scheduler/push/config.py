"""How an HTTP backend is set up, once per backend: a service URL safe to send a key to,
the timeouts, the proxies and CA bundle the environment sets, the values it requires."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.checks import CheckMessage, Error
from django.core.exceptions import ImproperlyConfigured


def service_url(setting: str, value: str) -> str:
    """The configured base URL without a trailing slash, if it is safe to send a key to.

    Plain http is for development or a service on this machine only (a local
    Supabase, tests): anywhere else it would carry the key and device tokens in
    clear text.
    """
    url = value.strip().rstrip("/")
    parts = urlsplit(url)
    plain_http_allowed = parts.scheme == "http" and (
        settings.DEBUG or is_loopback(parts.hostname or "")
    )
    if not parts.hostname or not (parts.scheme == "https" or plain_http_allowed):
        raise ImproperlyConfigured(
            f"{setting} {url!r} must start with https:// (plain http:// only with DEBUG on "
            "or for this machine: localhost, 127.0.0.0/8, ::1)."
        )
    return url


def service_url_check(setting: str, hint: str) -> list[CheckMessage]:
    """`service_url` as a system check on the setting's current value."""
    try:
        service_url(setting, getattr(settings, setting))
    except ImproperlyConfigured as exc:
        return [Error(str(exc), hint=hint, id="scheduler.E005")]
    return []


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def timeouts() -> tuple[float, float]:
    return settings.PUSH_CONNECT_TIMEOUT_SECONDS, settings.PUSH_READ_TIMEOUT_SECONDS


def environment_for(url: str) -> tuple[dict[str, str], str | None]:
    """The proxies and CA bundle the environment sets for `url`, read once per backend.

    The push connections never read the environment per request: requests
    would (with `trust_env` on) on every one, a good part of a send's CPU time
    at a thousand sends a second, and would let a ~/.netrc entry replace the
    service key.
    """
    ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    return requests.utils.get_environ_proxies(url), ca_bundle or None


def require(backend: str, given: Mapping[str, object]) -> None:
    """Refuse to build `backend` while a required value (by setting name) is empty."""
    missing = [name for name, value in given.items() if not is_set(value)]
    if missing:
        raise ImproperlyConfigured(f"The {backend} push backend needs {', '.join(missing)}.")


def is_set(value: object) -> bool:
    return value is not None and bool(str(value).strip())
