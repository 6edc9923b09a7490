"""Many due prompts in a few queries: one scenario, one activity and one device per mentor."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from scheduler.models import Activity, ActivityKind, Chapter, DeviceToken, PeerMentor, Scenario

_seq = itertools.count(1)


@dataclass(frozen=True)
class Seeded:
    scenario: Scenario
    mentor_ids: list[int]
    tokens: dict[int, str]  # mentor id -> its only device token


def seed_due_prompts(n: int, *, now: datetime | None = None, tag: str = "") -> Seeded:
    """`n` prompts due now, each for its own mentor, so a mentor id names a prompt."""
    now = now or timezone.now()
    chapter = Chapter.objects.create(name=f"Reliability {next(_seq)}")
    scenario = Scenario.objects.create(
        name="Three days after a first contact",
        is_enabled=True,
        trigger_kind=ActivityKind.FIRST_CONTACT,
        delay_days=3,
        lookback_days=7,
        title="Time to check in",
        body="A few days have passed since your first contact.",
    )
    mentors = PeerMentor.objects.bulk_create(
        [PeerMentor(name=f"Mentor {tag}{i}", chapter=chapter) for i in range(n)]
    )
    tokens = {m.pk: f"device-{tag}{m.pk:06d}-{'q' * 40}" for m in mentors}
    DeviceToken.objects.bulk_create(
        [DeviceToken(peer_mentor_id=pk, token=token) for pk, token in tokens.items()]
    )
    occurred = now - timedelta(days=3, minutes=1)
    Activity.objects.bulk_create(
        [
            Activity(
                peer_mentor_id=m.pk,
                contact_ref=f"C-{m.pk}",
                kind=ActivityKind.FIRST_CONTACT,
                occurred_at=occurred,
            )
            for m in mentors
        ]
    )
    return Seeded(scenario, [m.pk for m in mentors], tokens)
