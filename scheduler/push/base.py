"""What every push backend is made of: the message, its outcome and the interface; and
what both HTTP backends do with each request: one deadline for the whole answer, a
bounded read, a failure turned into an outcome, and secrets a server echoes back masked.
"""

from __future__ import annotations

import enum
import html
import json
import math
import re
import time
from dataclasses import dataclass, replace
from datetime import datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any

import requests
import urllib3
from django.conf import settings
from django.core.checks import CheckMessage, Error
from django.utils import timezone

from scheduler.models import masked_token
from scheduler.push.config import is_set


@dataclass(frozen=True)
class PushMessage:
    """Everything that leaves the system for one device: ids and fixed text only."""

    prompt_id: int | None
    peer_mentor_id: int
    scenario_id: int
    device_token: str
    title: str
    body: str


class Delivery(enum.StrEnum):
    DELIVERED = "delivered"
    PERMANENT = "permanent"  # retrying will not help
    TRANSIENT = "transient"  # try again later
    # Our side is wrong (key, URL, project): no send can succeed until someone fixes it.
    MISCONFIGURED = "misconfigured"


@dataclass(frozen=True)
class SendOutcome:
    delivery: Delivery
    error: str = ""
    retry_after: float | None = None
    # The push service says this device token is dead: stop using it.
    token_invalid: bool = False

    @classmethod
    def delivered(cls) -> SendOutcome:
        return cls(Delivery.DELIVERED)

    @classmethod
    def permanent(cls, error: str, *, token_invalid: bool = False) -> SendOutcome:
        return cls(Delivery.PERMANENT, error, token_invalid=token_invalid)

    @classmethod
    def misconfigured(cls, error: str) -> SendOutcome:
        return cls(Delivery.MISCONFIGURED, error)

    @classmethod
    def transient(cls, error: str, *, retry_after: float | None = None) -> SendOutcome:
        return cls(Delivery.TRANSIENT, error, retry_after=retry_after)

    @property
    def ok(self) -> bool:
        return self.delivery is Delivery.DELIVERED


class BasePushBackend:
    """One transport. `send` must not raise for delivery problems: it returns an outcome.

    `open`/`close` bracket a run so a backend can hold pooled connections;
    `send` is called from several threads at once. Like Django's mail backends,
    a backend takes its configuration as constructor arguments that fall back
    to settings.
    """

    # Settings that must not be empty when the backend is selected (and not given as arguments).
    required_settings: tuple[str, ...] = ()

    def __init__(self, *, concurrency: int = 1, **kwargs: object) -> None:
        self.concurrency = concurrency

    @classmethod
    def check(cls) -> list[CheckMessage]:
        """System-check messages about this backend's settings; [] when it can work."""
        return [
            Error(
                f"PUSH_BACKEND is {settings.PUSH_BACKEND!r} but {name} is not set.",
                hint=f"Set {name} in the environment or .env.",
                id="scheduler.E002",
            )
            for name in cls.missing_settings()
        ]

    @classmethod
    def missing_settings(cls) -> list[str]:
        return [name for name in cls.required_settings if not is_set(getattr(settings, name, ""))]

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def send(self, message: PushMessage) -> SendOutcome:
        raise NotImplementedError

    def __enter__(self) -> BasePushBackend:
        try:
            self.open()
        except BaseException:
            self.close()  # whatever open() got before it failed
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# Each request of an HTTP backend.

# FCM's codes for a dead device token, in its own words: the Supabase function passes them on.
TOKEN_ERRORS = {
    "UNREGISTERED": "the device token is no longer registered (UNREGISTERED)",
    "SENDER_ID_MISMATCH": "the device token belongs to another Firebase project "
    "(SENDER_ID_MISMATCH)",
}
# An error page can be megabytes; what a person needs is in the first few hundred bytes.
MAX_BODY_BYTES = 64 * 1024
ERROR_TEXT_LENGTH = 300

_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
# A run of this many characters of a secret in an error text is masked even
# where the rest is missing (cut off, or split by the server's line breaks).
SECRET_FRAGMENT_LENGTH = 12
# What a server may put between or instead of a secret's characters when it echoes
# it: whitespace, JSON escapes (\u0041, \/) and escaped line breaks.
_NOISE = re.compile(r"\s+|\\u([0-9a-fA-F]{4})|\\[nrtbf]|\\(.)", re.DOTALL)


def request_deadline() -> float:
    """When a push request started now must have its whole answer (time.monotonic)."""
    return time.monotonic() + settings.PUSH_REQUEST_DEADLINE_SECONDS


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


# Secrets a server echoes back (device tokens, the service key), masked before any text is kept.


def scrub(text: str, *secrets: str) -> str:
    """Never let a device token or key echoed back by a server reach the history or logs.

    Beyond the secret itself this masks any run of SECRET_FRAGMENT_LENGTH or
    more of its characters, also with whitespace or JSON escapes in between,
    in any case: a server may echo a key upper-cased.
    """
    for secret in secrets:
        if secret:
            text = replace_in_any_case(text, secret, masked_token(secret))
            text = mask_fragments(text, secret)
    return text


def replace_in_any_case(text: str, old: str, new: str) -> str:
    # A function, not a replacement string: `new` is taken as it is, backslashes too.
    return re.compile(re.escape(old), re.IGNORECASE).sub(lambda _: new, text)


def mask_fragments(text: str, secret: str) -> str:
    size = min(SECRET_FRAGMENT_LENGTH, len(secret))
    folded = fold_case(secret)
    pieces = {folded[i : i + size] for i in range(len(folded) - size + 1)}
    letters, starts, ends = skeleton(text)
    letters = fold_case(letters)
    runs: list[tuple[int, int]] = []
    for i in range(len(letters) - size + 1):
        if letters[i : i + size] not in pieces:
            continue
        if runs and i <= runs[-1][1]:
            runs[-1] = (runs[-1][0], i + size)
        else:
            runs.append((i, i + size))
    for first, end in reversed(runs):
        mask = masked_token(secret) if letters[first:end] == folded else "…"
        text = text[: starts[first]] + mask + text[ends.get(end - 1, starts[end - 1] + 1) :]
    return text


def fold_case(text: str) -> str:
    """Lower case, one character for one, so offsets into `text` still hold."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    # A few letters lower to two characters ("İ"): those stay as they are.
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def skeleton(text: str) -> tuple[str, list[int], dict[int, int]]:
    """The text without whitespace and with JSON escapes decoded, and where each letter came from.

    Returns the letters, each letter's start offset in `text`, and the end offsets
    of the letters that came from an escape (any other letter is one character).
    """
    letters: list[str] = []
    starts: list[int] = []
    escape_ends: dict[int, int] = {}
    position = 0
    for match in _NOISE.finditer(text):
        letters.append(text[position : match.start()])
        starts.extend(range(position, match.start()))
        position = match.end()
        hex_code, escaped = match.groups()
        letter = chr(int(hex_code, 16)) if hex_code else escaped
        if letter and not letter.isspace():
            escape_ends[len(starts)] = match.end()
            letters.append(letter)
            starts.append(match.start())
    letters.append(text[position:])
    starts.extend(range(position, len(text)))
    return "".join(letters), starts, escape_ends


def scrub_body(body: bytes, *secrets: str) -> bytes:
    """Mask secrets in an error body before any of it is cut short: a cut would leave a prefix
    unmasked."""
    return scrub(body.decode("utf-8", errors="replace"), *secrets).encode()


def scrub_outcome(outcome: SendOutcome, *secrets: str) -> SendOutcome:
    if not outcome.error:
        return outcome
    return replace(outcome, error=scrub(outcome.error, *secrets))
