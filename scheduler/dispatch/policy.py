"""Delivery policy: when a due prompt may be sent, and when it waits.

A prompt held back here is not claimed, so it stays due and a later run sends
it while it is still inside its scenario's lookback; after that it is too late
and never sent.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from scheduler.due_prompts import DuePrompt
from scheduler.models import PeerMentor, PromptHistory, PromptStatus

if TYPE_CHECKING:
    from scheduler.dispatch.summary import Tally

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


def within_daily_cap(
    prompts: Sequence[DuePrompt], now: datetime, limit: int
) -> tuple[list[DuePrompt], int]:
    """The prompts that still have a slot today, counted under a lock on their mentors,
    and how many the cap turned away. Call it inside the claim's transaction.

    Every claiming run locks a batch's mentors in id order before counting,
    so runs over different scenarios cannot both take a mentor's last slot
    (and cannot deadlock); on SQLite the IMMEDIATE transaction serialises
    them. A prompt already claimed by another run takes no slot here.
    """
    mentor_ids = sorted({p.peer_mentor_id for p in prompts})
    list(
        PeerMentor.objects.select_for_update()
        .filter(pk__in=mentor_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    used = slots_used(mentor_ids, local_day_start(now))
    taken = set(
        PromptHistory.objects.filter(
            peer_mentor_id__in=mentor_ids, activity_id__in={p.activity_id for p in prompts}
        ).values_list("scenario_id", "activity_id")
    )
    within: list[DuePrompt] = []
    capped = 0
    for prompt in prompts:
        if (prompt.scenario_id, prompt.activity_id) in taken:
            continue
        if used[prompt.peer_mentor_id] >= limit:
            capped += 1
            continue
        used[prompt.peer_mentor_id] += 1
        within.append(prompt)
    return within, capped


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


class Admission:
    """Delivery policy: pause, quiet hours and, on a dry run, the daily cap, counted.

    A real run leaves the daily cap to the claim, which counts it under a lock
    so that overlapping runs cannot exceed it; a dry run claims nothing, so it
    predicts the cap here from what is in the history now.
    """

    def __init__(self, now: datetime, tally: Tally, *, predict_daily_cap: bool) -> None:
        self.tally = tally
        self.quiet_until = quiet_hours_end(now)
        self.cap = DailyCap(now) if predict_daily_cap else None

    def admitted(self, batch: list[DuePrompt]) -> list[DuePrompt]:
        if self.cap is not None:
            self.cap.load(p.peer_mentor_id for p in batch)
        return [p for p in batch if self.allows(p)]

    @property
    def only_holds(self) -> bool:
        """Nothing but a prompt's own hold (a pause, too late) keeps it back now: outside quiet
        hours, and no daily cap to predict."""
        return self.quiet_until is None and (self.cap is None or not self.cap.limit)

    def unheld(self, prompts: Iterable[DuePrompt]) -> list[DuePrompt]:
        """`admitted` when `only_holds`, in one pass: a dry run may hold tens of thousands."""
        deferred = self.tally.deferred
        kept: list[DuePrompt] = []
        keep = kept.append
        for prompt in prompts:
            if prompt.held_by:
                deferred[prompt.held_by] += 1
            else:
                keep(prompt)
        return kept

    def allows(self, prompt: DuePrompt) -> bool:
        if prompt.held_by:
            self.tally.deferred[prompt.held_by] += 1
        elif self.quiet_until is not None:
            self.tally.deferred[QUIET_HOURS] += 1
            self.tally.deferred_until = self.quiet_until
        elif self.capped(prompt):
            self.tally.deferred[DAILY_CAP] += 1
        else:
            return True
        return False

    def capped(self, prompt: DuePrompt) -> bool:
        # A reclaimable prompt took its slot on the day of its first attempt.
        new = prompt.history_id is None
        return self.cap is not None and new and not self.cap.take_slot(prompt.peer_mentor_id)
