"""Who is calling (a bearer token of an active mentor) and how often they may."""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.security.http import HttpBearer
from ninja.throttling import BaseThrottle

from scheduler.api.auth import InvalidToken, user_id_from
from scheduler.models import PeerMentor

logger = logging.getLogger(__name__)

NOT_A_MENTOR = "This account is not linked to an active peer mentor."


class MentorBearer(HttpBearer):
    """`Authorization: Bearer <Supabase access token>` of an active, linked mentor."""

    def __call__(self, request: HttpRequest) -> PeerMentor | None:
        # Unlike HttpBearer, never log the header: it is a credential.
        scheme, _, token = request.headers.get(self.header, "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return self.authenticate(request, token.strip())

    def authenticate(self, request: HttpRequest, token: str) -> PeerMentor | None:
        try:
            user_id = user_id_from(token)
        except InvalidToken as exc:
            logger.info("refused an API token: %s", exc)
            return None
        mentor = PeerMentor.objects.filter(auth_user_id=user_id, is_active=True).first()
        if mentor is None:
            raise HttpError(403, NOT_A_MENTOR)
        return mentor


class MentorRateThrottle(BaseThrottle):
    """At most `API_THROTTLE_RATE` requests per mentor per period, in fixed windows.

    Counted with the cache's atomic add/incr, so concurrent requests of one
    mentor cannot slip past the limit; with the default locmem cache the count
    is per process.
    """

    def __init__(self) -> None:
        self._wait = threading.local()

    def allow_request(self, request: HttpRequest) -> bool:
        mentor = getattr(request, "auth", None)
        if not isinstance(mentor, PeerMentor):
            return True
        limit, period = rate()
        now = time.time()
        window = int(now // period)
        key = f"api-throttle:{mentor.pk}:{period}:{window}"
        cache.add(key, 0, timeout=period + 1)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=period + 1)
            count = 1
        self._wait.seconds = (window + 1) * period - now
        return count <= limit

    def wait(self) -> float | None:
        return getattr(self._wait, "seconds", None)


PERIODS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}


def rate() -> tuple[int, int]:
    """(requests, seconds) from API_THROTTLE_RATE, e.g. "120/m"."""
    return parse_rate(settings.API_THROTTLE_RATE)


def parse_rate(value: str) -> tuple[int, int]:
    count, _, unit = value.strip().partition("/")
    try:
        return int(count), PERIODS[unit.strip().lower()]
    except (ValueError, KeyError):
        raise ValueError(
            f"API_THROTTLE_RATE must look like 120/m (per s, m, h or d), not {value!r}."
        ) from None
