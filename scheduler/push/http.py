"""What the HTTP backends share: pooled sessions, bounded reads, error texts, Retry-After."""

from __future__ import annotations

import html
import ipaddress
import json
import math
import re
import time
from dataclasses import replace
from datetime import datetime
from email.utils import parsedate_to_datetime
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from requests.adapters import HTTPAdapter

from scheduler.models import masked_token
from scheduler.push.base import SendOutcome

# An error page can be megabytes; what a person needs is in the first few hundred bytes.
MAX_BODY_BYTES = 64 * 1024
ERROR_TEXT_LENGTH = 300
# Past a day the prompt has likely left its lookback anyway; an absurd value
# (or "inf") from a server must not turn into a date the database cannot hold.
MAX_RETRY_AFTER_SECONDS = 24 * 60 * 60

_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def service_url(setting: str, value: str) -> str:
    """The configured base URL without a trailing slash, if it is safe to send a key to.

    Plain http is for a service on this machine only (a local Supabase, tests):
    anywhere else it would carry the key and device tokens in clear text.
    """
    url = value.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ImproperlyConfigured(f"{setting} {url!r} is not an https:// URL.")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ImproperlyConfigured(
            f"{setting} {url!r} uses plain http: use https:// (http is only for localhost)."
        )
    return url


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def timeouts() -> tuple[float, float]:
    return settings.PUSH_CONNECT_TIMEOUT_SECONDS, settings.PUSH_READ_TIMEOUT_SECONDS


def post_options() -> dict[str, Any]:
    """What every push POST is sent with.

    Redirects are never followed: requests would resend the `apikey` header to
    wherever the Location points, and a 302/303 turns the POST into a GET whose
    2xx would count as delivered although nothing was sent.
    """
    return {"timeout": timeouts(), "stream": True, "allow_redirects": False}


def redirect_outcome(service: str, status: int, setting: str) -> SendOutcome:
    return SendOutcome.misconfigured(
        f"{service} answered with a redirect (HTTP {status}), which is never followed: "
        f"misconfiguration, set {setting} to the service's own https:// address."
    )


def pooled_adapter(concurrency: int) -> HTTPAdapter:
    # No automatic retries: a repeated POST could deliver twice; the pipeline retries.
    size = max(concurrency, 1)
    return HTTPAdapter(pool_connections=2, pool_maxsize=size, max_retries=0)


def mount_pool(session: requests.Session, concurrency: int) -> None:
    adapter = pooled_adapter(concurrency)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    # A push service has no business setting cookies that later requests would carry.
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))


def read_body(response: requests.Response, limit: int = MAX_BODY_BYTES) -> bytes:
    """At most `limit` bytes of a streamed response, within the read timeout, then it is closed.

    The read timeout alone bounds each wait for data, not the whole body: a
    server sending a byte now and then could hold a sender for hours. So the
    body gets the read timeout as a whole, and each read returns whatever has
    arrived. A body read to its end leaves the connection in the pool; one cut
    short (too big, too slow, or broken off by the server) closes it.
    """
    deadline = time.monotonic() + timeouts()[1]
    chunks: list[bytes] = []
    size = 0
    try:
        while size < limit and time.monotonic() < deadline:
            chunk = response.raw.read1(8192, decode_content=True)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except (urllib3.exceptions.HTTPError, OSError):
        pass  # the status line already says what happened; a cut-off body only loses detail
    finally:
        response.close()
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


def scrub(text: str, *secrets: str) -> str:
    """Never let a device token or key echoed back by a server reach the history or logs."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, masked_token(secret))
    return text


def scrub_body(body: bytes, *secrets: str) -> bytes:
    """Mask secrets in a body before any of it is cut short: a cut would leave a prefix unmasked."""
    return scrub(body.decode("utf-8", errors="replace"), *secrets).encode()


def scrub_outcome(outcome: SendOutcome, *secrets: str) -> SendOutcome:
    if not outcome.error:
        return outcome
    return replace(outcome, error=scrub(outcome.error, *secrets))


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds, at most a day: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        seconds = (when - (now or timezone.now())).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def network_outcome(service: str, exc: requests.RequestException) -> SendOutcome:
    """A request that got no answer: worth another try later, except a broken URL."""
    if isinstance(exc, requests.Timeout):
        kind = "timed out connecting" if isinstance(exc, requests.ConnectTimeout) else "timed out"
        return SendOutcome.transient(f"{service}: {kind} ({type(exc).__name__}).")
    if isinstance(exc, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
        return SendOutcome.transient(
            f"{service}: connection failed or dropped ({type(exc).__name__})."
        )
    if isinstance(exc, requests.exceptions.InvalidHeader):
        # Its message quotes the header, key included: never pass it on.
        return SendOutcome.misconfigured(
            f"{service}: the configured key cannot be sent in an HTTP header "
            "(it contains a line break or another control character)."
        )
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.InvalidSchema):
        return SendOutcome.misconfigured(f"{service}: the configured URL is invalid ({exc}).")
    return SendOutcome.transient(f"{service}: request failed ({type(exc).__name__}).")
