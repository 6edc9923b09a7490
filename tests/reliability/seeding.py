"""Many due prompts in a few queries: one scenario, one activity and one device per mentor."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from scheduler.models import DeviceToken, Scenario
from tests import factories

_seq = itertools.count(1)


@dataclass(frozen=True)
class Seeded:
    scenario: Scenario
    mentor_ids: list[int]
    tokens: dict[int, str]  # mentor id -> its only device token


def seed_due_prompts(n: int, *, now: datetime | None = None, tag: str = "") -> Seeded:
    """`n` prompts due now, each for its own mentor, so a mentor id names a prompt.

    The scenario is the factories' default (three days after a first contact);
    every mentor is in one new chapter, whose name carries `tag`.
    """
    now = now or timezone.now()
    chapter = factories.chapter(f"Reliability {tag}{next(_seq)}")
    scenario = factories.scenario()
    mentors = factories.mentors(n, chapter, tokens=1)
    factories.activities(mentors, occurred_at=now - timedelta(days=3, minutes=1))
    tokens = dict(
        DeviceToken.objects.filter(peer_mentor__chapter=chapter).values_list(
            "peer_mentor_id", "token"
        )
    )
    return Seeded(scenario, [m.pk for m in mentors], tokens)
