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
import requests
from django.conf import settings
from jwt import PyJWK, PyJWKSet

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
FETCH_TIMEOUT_SECONDS = (2.0, 3.0)  # connect, read
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
    """The project's signing keys, fetched when needed and kept `cache_seconds`."""

    def __init__(self, url: str, cache_seconds: int) -> None:
        self.url = url
        self.cache_seconds = cache_seconds
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at: float | None = None
        self._unknown_key_refetch_at: float | None = None
        self._paused_until = 0.0
        # One fetch at a time; the others wait for its keys rather than fetch too.
        self._lock = threading.Lock()

    def key_for(self, kid: str) -> PyJWK:
        with self._lock:
            now = time.time()
            fetched_now = self._expired(now) and self._refresh(now)
            key = self._keys.get(kid)
            if key is None and not fetched_now and self._may_refetch_for_unknown_key(now):
                self._unknown_key_refetch_at = now
                self._refresh(now)
                key = self._keys.get(kid)
        if key is None:
            raise InvalidToken("unknown kid" if self._keys else "no key set")
        return key

    def _expired(self, now: float) -> bool:
        return self._fetched_at is None or now - self._fetched_at >= self.cache_seconds

    def _may_refetch_for_unknown_key(self, now: float) -> bool:
        last = self._unknown_key_refetch_at
        return last is None or now - last >= UNKNOWN_KEY_REFETCH_SECONDS

    def _refresh(self, now: float) -> bool:
        """Fetch the keys; on failure keep the ones we have. True when fetched."""
        if now < self._paused_until:
            return False
        try:
            self._keys = fetch_signing_keys(self.url)
        except KeySetUnavailable as exc:
            self._paused_until = now + FAILED_FETCH_PAUSE_SECONDS
            logger.warning("could not fetch the Supabase key set (%s); keeping cached keys", exc)
            return False
        self._fetched_at = now
        return True


def fetch_signing_keys(url: str) -> dict[str, PyJWK]:
    """The ES256 and RS256 signing keys published at `url`, by key id."""
    try:
        with requests.get(
            url, timeout=FETCH_TIMEOUT_SECONDS, allow_redirects=False, stream=True
        ) as response:
            if response.status_code != 200:
                raise KeySetUnavailable(f"HTTP {response.status_code}")
            body = response.raw.read(MAX_KEY_SET_BYTES + 1, decode_content=True)
    except requests.RequestException as exc:
        raise KeySetUnavailable(type(exc).__name__) from exc
    if len(body) > MAX_KEY_SET_BYTES:
        raise KeySetUnavailable("key set too large")
    try:
        data = json.loads(body)
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
    url = f"{supabase_url()}/auth/v1/.well-known/jwks.json"
    cache_seconds = settings.SUPABASE_JWKS_CACHE_SECONDS
    with _current_lock:
        if _current is None or (_current.url, _current.cache_seconds) != (url, cache_seconds):
            _current = KeySet(url, cache_seconds)
        return _current


def forget_keys() -> None:
    global _current
    with _current_lock:
        _current = None
