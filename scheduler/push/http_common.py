"""What the HTTP backends share: URLs, deadlines, bounded reads, error texts, masked secrets."""

from __future__ import annotations

import html
import ipaddress
import json
import math
import os
import re
import time
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from django.conf import settings
from django.core.checks import CheckMessage, Error
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from scheduler.push.base import SendOutcome

# An error page can be megabytes; what a person needs is in the first few hundred bytes.
MAX_BODY_BYTES = 64 * 1024
ERROR_TEXT_LENGTH = 300

_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


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


def request_deadline() -> float:
    """When a push request started now must have its whole answer (time.monotonic)."""
    return time.monotonic() + settings.PUSH_REQUEST_DEADLINE_SECONDS


def environment_for(url: str) -> tuple[dict[str, str], str | None]:
    """The proxies and CA bundle the environment sets for `url`, read once per backend.

    The push connections never read the environment per request: requests
    would (with `trust_env` on) on every one, a good part of a send's CPU time
    at a thousand sends a second, and would let a ~/.netrc entry replace the
    service key.
    """
    ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    return requests.utils.get_environ_proxies(url), ca_bundle or None


class DeadlineExceeded(requests.Timeout):
    """The whole answer did not arrive within PUSH_REQUEST_DEADLINE_SECONDS."""


def redirect_outcome(service: str, status: int, setting: str) -> SendOutcome:
    return SendOutcome.misconfigured(
        f"{service} answered with a redirect (HTTP {status}), which is never followed: "
        f"misconfiguration, set {setting} to the service's own https:// address."
    )


def has_control_characters(value: str) -> bool:
    """True for a value no HTTP header can carry (a pasted line break, say)."""
    return any(ord(c) < 32 or ord(c) == 127 for c in value)


def unsendable_key(service: str) -> SendOutcome:
    # Never quote the key: the message ends up in logs and the admin.
    return SendOutcome.misconfigured(
        f"{service}: the configured key cannot be sent in an HTTP header "
        "(it contains a line break or another control character)."
    )


def read_body(
    response: requests.Response | urllib3.BaseHTTPResponse,
    deadline: float,
    limit: int = MAX_BODY_BYTES,
) -> bytes:
    """At most `limit` bytes of a streamed response, then it is closed.

    The read timeout alone bounds each wait for data, not the whole body: a
    server sending a byte now and then could hold a sender for hours. So each
    read returns whatever has arrived, and past `deadline` (time.monotonic)
    DeadlineExceeded is raised. A body read to its end leaves the connection in
    the pool; one cut short (too big, too slow, or broken off by the server)
    closes it.
    """
    raw: urllib3.BaseHTTPResponse = (
        response.raw if isinstance(response, requests.Response) else response
    )
    chunks: list[bytes] = []
    size = 0
    try:
        while size < limit:
            if time.monotonic() >= deadline:
                raise DeadlineExceeded("the answer did not arrive in time")
            try:
                chunk = raw.read1(8192, decode_content=True)
            except (urllib3.exceptions.HTTPError, OSError):
                # The status line already says what happened; a cut-off body only loses detail.
                break
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        response.close()
        if not isinstance(response, requests.Response):
            raw.release_conn()  # requests' Response.close() does this itself
    return b"".join(chunks)[:limit]


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def error_text(body: bytes, limit: int = ERROR_TEXT_LENGTH) -> str:
    """A short, readable line from an error body: JSON, an HTML page's title, or plain text."""
    title = _TITLE.search(body)
    raw = title.group(1) if title else body
    text = raw.decode("utf-8", errors="replace")
    if title or text.lstrip().startswith("<"):
        text = html.unescape(_TAGS.sub(" ", text))
    text = _SPACE.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date.

    An absurd value ("inf", 1e12, the year 9999) must not turn into a date the
    database cannot hold: it is capped at DISPATCH_RETRY_MAX_SECONDS, the
    longest the pipeline waits between attempts anyway.
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            return None
        seconds = (when - (now or timezone.now())).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), float(settings.DISPATCH_RETRY_MAX_SECONDS))


# What both HTTP stacks (requests for FCM, urllib3 for Supabase) raise, by meaning.
_REFUSED = (urllib3.exceptions.NewConnectionError,)  # urllib3 files it under timeouts
_TIMEOUTS = (requests.Timeout, urllib3.exceptions.TimeoutError)
_CONNECT_TIMEOUTS = (requests.ConnectTimeout, urllib3.exceptions.ConnectTimeoutError)
_BROKEN = (
    requests.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    urllib3.exceptions.ProtocolError,
    urllib3.exceptions.SSLError,
    urllib3.exceptions.ProxyError,
    OSError,
)
_INVALID_URLS = (
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidSchema,
    urllib3.exceptions.LocationValueError,
)
# What a push request may raise instead of answering.
NETWORK_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError, OSError)


def network_outcome(service: str, exc: Exception) -> SendOutcome:
    """A request that got no answer: worth another try later, except a broken URL."""
    if isinstance(exc, DeadlineExceeded):
        return SendOutcome.transient(
            f"{service}: timed out (no complete answer within "
            f"PUSH_REQUEST_DEADLINE_SECONDS, {settings.PUSH_REQUEST_DEADLINE_SECONDS:g} s)."
        )
    if isinstance(exc, _TIMEOUTS) and not isinstance(exc, _REFUSED):
        kind = "timed out connecting" if isinstance(exc, _CONNECT_TIMEOUTS) else "timed out"
        return SendOutcome.transient(f"{service}: {kind} ({type(exc).__name__}).")
    if isinstance(exc, _REFUSED + _BROKEN):
        return SendOutcome.transient(
            f"{service}: connection failed or dropped ({type(exc).__name__})."
        )
    if isinstance(exc, requests.exceptions.InvalidHeader):
        # Its message quotes the header, key included: never pass it on.
        return unsendable_key(service)
    if isinstance(exc, _INVALID_URLS):
        return SendOutcome.misconfigured(f"{service}: the configured URL is invalid ({exc}).")
    return SendOutcome.transient(f"{service}: request failed ({type(exc).__name__}).")
