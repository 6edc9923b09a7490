"""Delivery policy: when a due prompt may be sent, and when it waits.

A prompt held back here is not claimed, so it stays due and a later run sends
it while it is still inside its scenario's lookback; after that it is too late
and never sent.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, time, timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from scheduler.models import PromptHistory, PromptStatus

QUIET_HOURS = "quiet_hours"
DAILY_CAP = "daily_cap"
PAUSED = "paused"


def quiet_hours_end(now: datetime) -> datetime | None:
    """The end of the quiet window `now` lies in, or None outside quiet hours."""
    window: tuple[time, time] | None = settings.QUIET_HOURS
    if window is None:
        return None
    start, end = window
    local = timezone.localtime(now)
    clock = local.time()
    inside = start <= clock < end if start < end else clock >= start or clock < end
    if not inside:
        return None
    end_day = local.date() if clock < end else local.date() + timedelta(days=1)
    return timezone.make_aware(datetime.combine(end_day, end), local.tzinfo)


def local_day_start(now: datetime) -> datetime:
    local = timezone.localtime(now)
    return timezone.make_aware(datetime.combine(local.date(), time.min), local.tzinfo)


class DailyCap:
    """Counts prompts per mentor per local day; loads each mentor's count once per run.

    A prompt uses a slot of the local day it was first claimed on, from its
    first attempt: the push service may have received a prompt that now waits
    for a retry, so it counts, and its later retries take no second slot.
    A claim not yet sent (pending) counts too; a prompt skipped for want of a
    device, never attempted, does not.
    """

    def __init__(self, now: datetime, limit: int | None = None) -> None:
        self.limit = settings.MAX_PROMPTS_PER_MENTOR_PER_DAY if limit is None else limit
        self.day_start = local_day_start(now)
        self.sent: Counter[int] = Counter()
        self._loaded: set[int] = set()

    def load(self, mentor_ids: Iterable[int]) -> None:
        if not self.limit:
            return
        missing = set(mentor_ids) - self._loaded
        if not missing:
            return
        self.sent.update(slots_used(missing, self.day_start))
        self._loaded |= missing

    def take_slot(self, mentor_id: int) -> bool:
        if not self.limit:
            return True
        if self.sent[mentor_id] >= self.limit:
            return False
        self.sent[mentor_id] += 1
        return True


def slots_used(mentor_ids: Iterable[int], day_start: datetime) -> Counter[int]:
    """Each mentor's prompts that count towards the cap of the day starting at `day_start`."""
    rows = (
        PromptHistory.objects.filter(
            Q(status=PromptStatus.PENDING) | Q(attempts__gt=0),
            peer_mentor_id__in=list(mentor_ids),
            created_at__gte=day_start,
        )
        .values("peer_mentor_id")
        .annotate(n=Count("pk"))
    )
    return Counter({row["peer_mentor_id"]: row["n"] for row in rows})


def next_attempt_delay(attempts: int, retry_after: float | None = None) -> timedelta:
    """Exponential backoff with full jitter, never sooner than the server asked."""
    ceiling = min(
        settings.DISPATCH_RETRY_MAX_SECONDS,
        settings.DISPATCH_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0),
    )
    seconds = random.uniform(ceiling / 2, ceiling)
    if retry_after is not None and math.isfinite(retry_after):
        # A server's wish is honoured up to our own longest wait, never past it.
        seconds = max(seconds, min(retry_after, settings.DISPATCH_RETRY_MAX_SECONDS))
    return timedelta(seconds=seconds)
