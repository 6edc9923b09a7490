"""Small builders for test data; every argument has a sensible default."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from scheduler.models import Activity, ActivityKind, Chapter, DeviceToken, PeerMentor, Scenario

_seq = itertools.count(1)


def chapter(name: str | None = None) -> Chapter:
    return Chapter.objects.create(name=name or f"Chapter {next(_seq)}")


def mentor(chapter_: Chapter | None = None, *, tokens: int = 1, **fields: Any) -> PeerMentor:
    m = PeerMentor.objects.create(
        name=fields.pop("name", f"Mentor {next(_seq)}"), chapter=chapter_ or chapter(), **fields
    )
    for _ in range(tokens):
        DeviceToken.objects.create(peer_mentor=m, token=f"device-token-{next(_seq):06d}")
    return m


def activity(
    mentor_: PeerMentor,
    *,
    kind: str = ActivityKind.FIRST_CONTACT,
    occurred_at: datetime | None = None,
    days_ago: float | None = None,
    contact_ref: str | None = None,
    **fields: Any,
) -> Activity:
    if occurred_at is None:
        occurred_at = timezone.now() - timedelta(days=3 if days_ago is None else days_ago)
    return Activity.objects.create(
        peer_mentor=mentor_,
        kind=kind,
        occurred_at=occurred_at,
        contact_ref=contact_ref or f"C-{next(_seq)}",
        **fields,
    )


def scenario(**fields: Any) -> Scenario:
    defaults: dict[str, Any] = {
        "name": f"Scenario {next(_seq)}",
        "is_enabled": True,
        "trigger_kind": ActivityKind.FIRST_CONTACT,
        "delay_days": 3,
        "requires_wellbeing_concern": False,
        "skip_if_followed_up": True,
        "lookback_days": 7,
        "title": "Time to check in",
        "body": "A few days have passed since your first contact.",
    }
    return Scenario.objects.create(**{**defaults, **fields})
