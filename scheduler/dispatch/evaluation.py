"""Stages 1 and 2 of a run: the enabled scenarios, and the prompts due under them that are
not in the history yet, as one lazy stream, oldest due first.

Nothing here writes: a run reads the stream a batch at a time as it claims
(`chunked`), so memory stays flat however much is due.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Collection, Iterable, Iterator
from datetime import datetime, timedelta
from itertools import chain, islice
from operator import attrgetter

from django.db.models import Q
from django.db.models.lookups import Exact

from scheduler.dispatch import recovery
from scheduler.dispatch.shard import WHOLE, Shard
from scheduler.due_prompts import DuePrompt, due_prompts
from scheduler.models import ActivityKind, PeerMentor, Scenario

logger = logging.getLogger(__name__)

DUE_AT = attrgetter("due_at")
# A run reads a scenario's due prompts in pages of this many, so no statement stays open
# while it writes; a dry run writes nothing and reads each scenario whole.
PAGE_SIZE = 10_000
ONE_PAGE = 2**62


class MentorScope:
    """Every mentor, or only those of some chapters (a coordinator's "run now"), or of one
    shard (`where`, a filter every query of the run takes on `peer_mentor_id`)."""

    def __init__(self, chapter_ids: Collection[int] | None, shard: Shard = WHOLE) -> None:
        self.shard = shard
        self.ids: frozenset[int] | None = None
        if chapter_ids is not None:
            mentors = PeerMentor.objects.filter(chapter_id__in=list(chapter_ids))
            self.ids = frozenset(mentors.values_list("pk", flat=True))

    def where(self) -> Exact | None:
        return self.shard.where()

    def only(self, due: Iterator[DuePrompt]) -> Iterator[DuePrompt]:
        ids = self.ids
        return due if ids is None else (p for p in due if p.peer_mentor_id in ids)


def load_scenarios(
    scenario_id: int | None, chapter_ids: Collection[int] | None = None
) -> dict[int, Scenario]:
    qs = Scenario.objects.select_related("chapter").filter(is_enabled=True)
    if scenario_id is not None:
        qs = qs.filter(pk=scenario_id)
    if chapter_ids is not None:
        qs = qs.filter(Q(chapter__isnull=True) | Q(chapter_id__in=list(chapter_ids)))
    # A row saved without validation must not stop every other scenario's run.
    return {s.pk: s for s in qs if is_sendable(s)}


def is_sendable(scenario: Scenario) -> bool:
    if scenario.trigger_kind not in ActivityKind.values:
        logger.warning("scenario %s has an unknown trigger kind and is ignored", scenario.pk)
        return False
    if scenario.missing_text():
        logger.warning("scenario %s has no title or message and is ignored", scenario.pk)
        return False
    return True


def evaluate(
    scenarios: dict[int, Scenario],
    now: datetime,
    *,
    too_late_within: timedelta | None = None,
    shard: Shard = WHOLE,
) -> Iterator[DuePrompt]:
    """Stages 1 and 2: one streamed query per scenario, PromptHistory anti-joined
    inside it, merged oldest due first with the retries that are due again.

    Each activity appears at most once per scenario, so a run cannot hold the
    same (mentor, scenario, activity) twice. A shard's queries read only its mentors.
    """
    return heapq.merge(*streams(scenarios, now, too_late_within, shard), key=DUE_AT)


def evaluate_all(
    scenarios: dict[int, Scenario],
    now: datetime,
    *,
    too_late_within: timedelta | None = None,
    shard: Shard = WHOLE,
) -> list[DuePrompt]:
    """`evaluate` read whole, for a dry run, which keeps every prompt anyway.

    Each stream is sorted already, so one sort of them chained merges them in
    C; it is stable, so prompts due at the same moment come in the same order
    as from `heapq.merge`.
    """
    # Nothing is written meanwhile, so each scenario is read in one statement, not in pages.
    found = streams(scenarios, now, too_late_within, shard, page_size=ONE_PAGE)
    return sorted(chain.from_iterable(found), key=DUE_AT)


def streams(
    scenarios: dict[int, Scenario],
    now: datetime,
    too_late_within: timedelta | None,
    shard: Shard,
    page_size: int = PAGE_SIZE,
) -> list[Iterator[DuePrompt]]:
    """One stream per scenario, oldest due first, and one per scenario with retries due."""
    reclaimable = recovery.reclaimable_q(now)
    where = shard.where
    found = [
        due_prompts(
            s, now, too_late_within=too_late_within, mentor_filter=where(), page_size=page_size
        )
        for s in scenarios.values()
    ]
    found += [
        due_prompts(scenarios[pk], now, reclaimable=reclaimable, mentor_filter=where())
        for pk in recovery.scenarios_with_reclaimable(scenarios, now, shard)
    ]
    return found


def chunked(items: Iterable[DuePrompt], size: int) -> Iterator[list[DuePrompt]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
