"""Supabase Auth access tokens: which app user is calling.

A token is checked against the project's published key set
(`{SUPABASE_URL}/auth/v1/.well-known/jwks.json`, ES256 and RS256 keys), or,
only when `SUPABASE_JWT_SECRET` is set, against that legacy shared secret
(HS256). Each key source fixes the one algorithm it verifies with, so a token
cannot pick a weaker one (`none`, or HS256 "signed" with a public key).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any
from uuid import UUID

import jwt
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from jwt import PyJWK, PyJWKSet

from scheduler import bounded_http
from scheduler.push import config

logger = logging.getLogger(__name__)

AUDIENCE = "authenticated"
KEY_SET_ALGORITHMS = frozenset({"ES256", "RS256"})
LEGACY_ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["exp", "iat", "sub", "aud", "iss"]
# Clock skew between Supabase and this server.
LEEWAY_SECONDS = 30
# Anything longer is not a Supabase access token; refuse it before parsing.
MAX_TOKEN_LENGTH = 8192
MAX_KEY_ID_LENGTH = 200
MAX_KEY_SET_BYTES = 256 * 1024
# The whole fetch, however slowly the server answers; also the longest a request
# without a usable key waits for it.
FETCH_DEADLINE_SECONDS = 5.0
# Tokens naming a key we do not hold may fetch the key set again this often:
# a rotated key is picked up quickly, a flood of made-up ids costs one fetch.
UNKNOWN_KEY_REFETCH_SECONDS = 60
# After a failed fetch, requests use what is cached (or are refused) this long
# instead of each waiting for an unreachable server.
FAILED_FETCH_PAUSE_SECONDS = 10


class InvalidToken(Exception):
    """Why a token was refused: for the log, never for the caller."""


class KeySetUnavailable(Exception):
    pass


def user_id_from(token: str) -> UUID:
    """The Supabase user id (`sub`) of a valid access token, or InvalidToken."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken("token too long")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidToken("malformed token") from exc
    key, algorithm = verification_key(header)
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=AUDIENCE,
            issuer=issuer(),
            leeway=LEEWAY_SECONDS,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"{type(exc).__name__}") from exc
    if claims.get("is_anonymous", False) is not False:
        raise InvalidToken("anonymous sign-in")
    try:
        return UUID(claims["sub"])
    except (TypeError, ValueError, AttributeError) as exc:
        raise InvalidToken("sub is not a user id") from exc


def issuer() -> str:
    return f"{supabase_url()}/auth/v1"


def supabase_url() -> str:
    return settings.SUPABASE_URL.strip().rstrip("/")


def verification_key(header: dict[str, object]) -> tuple[Any, str]:
    """The key and the one algorithm it allows; the token's `alg` only picks the source."""
    if header.get("alg") == LEGACY_ALGORITHM:
        secret = settings.SUPABASE_JWT_SECRET
        if not secret:
            raise InvalidToken("HS256 token but no SUPABASE_JWT_SECRET")
        return secret, LEGACY_ALGORITHM
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > MAX_KEY_ID_LENGTH:
        raise InvalidToken("no usable kid")
    if not supabase_url():
        raise InvalidToken("SUPABASE_URL is not set")
    jwk = key_set().key_for(kid)
    return jwk.key, jwk.algorithm_name


class KeySet:
    """The project's signing keys, fetched when needed and kept `cache_seconds`.

    Fetching happens on a thread of its own, one fetch at a time, and no lock is
    held while it talks to the network. Requests go on with the keys they have
    while a refresh runs; only a request without a usable key (before the first
    fetch, or naming a key we do not hold) waits for the fetch, and never longer
    than its deadline.
    """

    def __init__(self, url: str, cache_seconds: int) -> None:
        self.url = url
        self.cache_seconds = cache_seconds
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at: float | None = None
        self._unknown_key_refetch_at: float | None = None
        self._paused_until = 0.0
        self._fetching: threading.Event | None = None  # set when the running fetch ends
        self._lock = threading.Lock()  # guards the fields above, never held across I/O

    def key_for(self, kid: str) -> PyJWK:
        key, fetch = self._cached_key_or_fetch(kid, time.time())
        if key is None and fetch is not None:
            fetch.wait(FETCH_DEADLINE_SECONDS)
            with self._lock:
                key = self._keys.get(kid)
        if key is None:
            raise InvalidToken("unknown kid" if self._keys else "no key set")
        return key

    def wait_for_fetch(self, timeout: float) -> bool:
        """Wait until no fetch is running; False if one still is after `timeout` seconds."""
        with self._lock:
            fetch = self._fetching
        return fetch is None or fetch.wait(timeout)

    def _cached_key_or_fetch(
        self, kid: str, now: float
    ) -> tuple[PyJWK | None, threading.Event | None]:
        """The cached key, or the fetch worth waiting for; starts a fetch when one is due."""
        with self._lock:
            key = self._keys.get(kid)
            if self._expired(now):
                self._start_fetch(now)
            elif key is None and self._may_refetch_for_unknown_key(now):
                self._unknown_key_refetch_at = now
                self._start_fetch(now)
            return key, self._fetching

    def _expired(self, now: float) -> bool:
        return self._fetched_at is None or now - self._fetched_at >= self.cache_seconds

    def _may_refetch_for_unknown_key(self, now: float) -> bool:
        last = self._unknown_key_refetch_at
        return last is None or now - last >= UNKNOWN_KEY_REFETCH_SECONDS

    def _start_fetch(self, now: float) -> None:
        """Start a fetch unless one is running or a failed one is still cooling off."""
        if self._fetching is not None or now < self._paused_until:
            return
        done = self._fetching = threading.Event()
        threading.Thread(
            target=self._fetch, args=(done,), name="supabase-key-set", daemon=True
        ).start()

    def _fetch(self, done: threading.Event) -> None:
        """Fetch the keys; on failure keep the ones we have and pause further fetches."""
        try:
            keys = fetch_signing_keys(self.url)
        except Exception as exc:
            reason = str(exc) if isinstance(exc, KeySetUnavailable) else type(exc).__name__
            logger.warning("could not fetch the Supabase key set (%s); keeping cached keys", reason)
            with self._lock:
                self._paused_until = time.time() + FAILED_FETCH_PAUSE_SECONDS
        else:
            with self._lock:
                self._keys = keys
                self._fetched_at = time.time()
        finally:
            with self._lock:
                self._fetching = None
            done.set()


def fetch_signing_keys(url: str) -> dict[str, PyJWK]:
    """The ES256 and RS256 signing keys published at `url`, by key id."""
    try:
        reply = bounded_http.request(
            "GET",
            url,
            deadline_seconds=FETCH_DEADLINE_SECONDS,
            max_body_bytes=MAX_KEY_SET_BYTES,
            headers={"Accept": "application/json"},
        )
    except bounded_http.RequestFailed as exc:
        raise KeySetUnavailable(str(exc)) from exc
    if reply.status != 200:
        raise KeySetUnavailable(f"HTTP {reply.status}")
    try:
        data = json.loads(reply.body)
        published = PyJWKSet.from_dict(data).keys
    except (ValueError, AttributeError, jwt.PyJWTError) as exc:
        raise KeySetUnavailable("not a key set") from exc
    keys = {
        key.key_id: key
        for key in published
        if key.key_id
        and key.algorithm_name in KEY_SET_ALGORITHMS
        and key.public_key_use in ("sig", None)
    }
    if not keys:
        raise KeySetUnavailable("no ES256 or RS256 signing keys")
    return keys


_current: KeySet | None = None
_current_lock = threading.Lock()


def key_set() -> KeySet:
    """The key set for the current settings (tests change SUPABASE_URL between cases)."""
    global _current
    try:
        # Keys fetched over plain http from another machine could be anyone's.
        base = config.service_url("SUPABASE_URL", settings.SUPABASE_URL)
    except ImproperlyConfigured as exc:
        raise InvalidToken("SUPABASE_URL is not https") from exc
    url = f"{base}/auth/v1/.well-known/jwks.json"
    cache_seconds = settings.SUPABASE_JWKS_CACHE_SECONDS
    with _current_lock:
        if _current is None or (_current.url, _current.cache_seconds) != (url, cache_seconds):
            _current = KeySet(url, cache_seconds)
        return _current


def forget_keys() -> None:
    global _current
    with _current_lock:
        _current = None
