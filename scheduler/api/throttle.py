"""How often a caller may use the API, counted where every web process sees it.

Counts live in the cache alias `api-throttle`, which `API_THROTTLE_CACHE_URL`
configures: per process by default (locmem), shared by every process and
machine with the database cache or Redis. Two budgets, in fixed windows:

- `API_THROTTLE_RATE` per mentor, for requests that authenticated;
- `API_AUTH_FAILURE_RATE` per client address, for requests that did not
  (401, and 403 for a valid token of a user who is not a linked mentor).
  Past it, the address's failing requests get 429; a linked mentor's valid
  token from the same address still gets in.

Once this process has seen an address pass its budget, it answers that
address's failing requests from memory until the window ends: a flood costs
no query, not even to the shared cache.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from uuid import UUID

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.http import HttpRequest
from ninja.errors import Throttled
from ninja.throttling import BaseThrottle

from scheduler.client_ip import client_ip
from scheduler.models import PeerMentor

logger = logging.getLogger(__name__)

THROTTLE_CACHE = "api-throttle"
PERIODS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}
# What this process knows until a window ends: addresses past their budget, and
# users it answered 403 (not a linked mentor).
remembered = LocMemCache("scheduler-api-throttle", {"MAX_ENTRIES": 10_000})


def client_address(request: HttpRequest) -> str:
    """The address a request came from, behind our proxies as the login throttle sees it."""
    return client_ip(request) or ""


def throttle_cache() -> BaseCache:
    return caches[THROTTLE_CACHE]


class MentorRateThrottle(BaseThrottle):
    """At most `API_THROTTLE_RATE` requests per mentor per period.

    Counted with the cache's add and incr, atomic in locmem, Redis and (with
    `scheduler.api.shared_cache`) the database cache, so concurrent requests of
    one mentor cannot slip past the limit.
    """

    def __init__(self) -> None:
        self._wait = threading.local()

    def allow_request(self, request: HttpRequest) -> bool:
        mentor = getattr(request, "auth", None)
        if not isinstance(mentor, PeerMentor):
            return True
        limit, period = rate()
        count, self._wait.seconds = count_in_window(f"api-throttle:{mentor.pk}", period)
        return count <= limit

    def wait(self) -> float | None:
        return getattr(self._wait, "seconds", None)


def count_failed_sign_in(address: str) -> None:
    """Count a request from `address` that did not authenticate; Throttled past the budget."""
    limit, period = failure_rate()
    refuse_ifremembered(address_key(address, period))
    count, wait = count_in_window(f"api-auth-failures:{address}", period)
    if count > limit:
        remembered.set(address_key(address, period), True, timeout=wait)
        if count == limit + 1:
            # The address is personal data: the log says only that it happened.
            logger.warning("a client address passed API_AUTH_FAILURE_RATE (%d failures)", limit)
        raise Throttled(math.ceil(wait))


def refuse_known_unlinked(address: str, user_id: UUID) -> None:
    """Throttled, without a query, for a user already answered 403 from a throttled address."""
    _, period = failure_rate()
    if remembered.get(address_key(address, period)) is not None:
        refuse_ifremembered(unlinked_key(user_id, period))


def remember_unlinked(user_id: UUID) -> None:
    _, period = failure_rate()
    remembered.set(unlinked_key(user_id, period), True, timeout=seconds_left(period))


def refuse_ifremembered(key: str) -> None:
    if remembered.get(key) is not None:
        raise Throttled(math.ceil(seconds_left(failure_rate()[1])))


def address_key(address: str, period: int) -> str:
    return f"exhausted:{address}:{period}:{window_of(time.time(), period)}"


def unlinked_key(user_id: UUID, period: int) -> str:
    return f"unlinked:{user_id}:{period}:{window_of(time.time(), period)}"


def count_in_window(name: str, period: int) -> tuple[int, float]:
    """Add one to `name`'s count in the current window: (the count, seconds the window has left)."""
    now = time.time()
    key = f"{name}:{period}:{window_of(now, period)}"
    return increment(throttle_cache(), key, timeout=period + 1), seconds_left(period, now)


def increment(cache: BaseCache, key: str, timeout: int) -> int:
    # incr first: after a window's first request that is the only statement.
    try:
        return cache.incr(key)
    except ValueError:
        pass
    if cache.add(key, 1, timeout=timeout):
        return 1
    try:
        return cache.incr(key)  # another request added it first
    except ValueError:  # and it expired at once
        return 1


def window_of(now: float, period: int) -> int:
    return int(now // period)


def seconds_left(period: int, now: float | None = None) -> float:
    now = time.time() if now is None else now
    return (window_of(now, period) + 1) * period - now


def rate() -> tuple[int, int]:
    """(requests, seconds) from API_THROTTLE_RATE, e.g. "120/m"."""
    return parse_rate(settings.API_THROTTLE_RATE)


def failure_rate() -> tuple[int, int]:
    return parse_rate(settings.API_AUTH_FAILURE_RATE, "API_AUTH_FAILURE_RATE")


def parse_rate(value: str, setting: str = "API_THROTTLE_RATE") -> tuple[int, int]:
    count, _, unit = value.strip().partition("/")
    try:
        return int(count), PERIODS[unit.strip().lower()]
    except (ValueError, KeyError):
        raise ValueError(
            f"{setting} must look like 120/m (per s, m, h or d), not {value!r}."
        ) from None
