"""Small builders for test data; every argument has a sensible default."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from scheduler.models import (
    Activity,
    ActivityKind,
    Chapter,
    DeviceToken,
    PeerMentor,
    PromptHistory,
    PromptStatus,
    Scenario,
)

_seq = itertools.count(1)


def chapter(name: str | None = None) -> Chapter:
    return Chapter.objects.create(name=name or f"Chapter {next(_seq)}")


def mentor(chapter_: Chapter | None = None, *, tokens: int = 1, **fields: Any) -> PeerMentor:
    """One mentor, by default in a chapter of their own, with one device."""
    [m] = mentors(1, chapter_, tokens=tokens, **fields)
    return m


def mentors(
    n: int, chapter_: Chapter | None = None, *, tokens: int = 1, **fields: Any
) -> list[PeerMentor]:
    """`n` mentors of one chapter, `tokens` devices each, written in bulk (a few queries)."""
    chapter_ = chapter_ or chapter()
    name = fields.pop("name", None)
    rows = PeerMentor.objects.bulk_create(
        PeerMentor(name=name or f"Mentor {next(_seq)}", chapter=chapter_, **fields)
        for _ in range(n)
    )
    DeviceToken.objects.bulk_create(
        DeviceToken(peer_mentor=m, token=f"device-token-{next(_seq):06d}")
        for m in rows
        for _ in range(tokens)
    )
    return rows


def activity(mentor_: PeerMentor, **fields: Any) -> Activity:
    """One activity of `mentor_`; the keywords and defaults are those of `activities`."""
    [row] = activities([mentor_], **fields)
    return row


def activities(
    mentors_: Iterable[PeerMentor],
    *,
    kind: str = ActivityKind.FIRST_CONTACT,
    occurred_at: datetime | None = None,
    days_ago: float | None = None,
    contact_ref: str | None = None,
    **fields: Any,
) -> list[Activity]:
    """One activity per entry of `mentors_` (list a mentor twice for two), written in bulk.

    By default a first contact three days ago (`days_ago` or `occurred_at` say
    otherwise), each with a contact of its own unless `contact_ref` is given.
    """
    if occurred_at is None:
        occurred_at = timezone.now() - timedelta(days=3 if days_ago is None else days_ago)
    return Activity.objects.bulk_create(
        Activity(
            peer_mentor=m,
            kind=kind,
            occurred_at=occurred_at,
            contact_ref=f"C-{next(_seq)}" if contact_ref is None else contact_ref,
            **fields,
        )
        for m in mentors_
    )


def scenario(**fields: Any) -> Scenario:
    """Enabled, every chapter: three days after a first contact, at most a week late."""
    row = build_scenario(**fields)
    row.save(force_insert=True)
    return row


def build_scenario(**fields: Any) -> Scenario:
    """`scenario`'s row unsaved, for a bulk_create of many."""
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
    return Scenario(**{**defaults, **fields})


def prompt(
    scenario_: Scenario | None = None,
    activity_: Activity | None = None,
    *,
    status: str = PromptStatus.DISPATCHED,
    **fields: Any,
) -> PromptHistory:
    """A PromptHistory row: by default `scenario_` was sent for `activity_` just now.

    The mentor is the activity's (pass `peer_mentor=` for a fresh activity of
    that mentor), title and body are the scenario's as a claim records them,
    and created_at and due_at are now. A DISPATCHED prompt (the default) was
    sent once, now; any other status keeps the model's defaults (no
    dispatched_at, no attempts). Every field can be given as a keyword.
    """
    if activity_ is None:
        activity_ = activity(fields.pop("peer_mentor", None) or mentor())
    scenario_ = scenario_ or scenario()
    now = timezone.now()
    defaults: dict[str, Any] = {
        "peer_mentor": activity_.peer_mentor,
        "created_at": now,
        "due_at": now,
        "title": scenario_.title,
        "body": scenario_.body,
    }
    if status == PromptStatus.DISPATCHED:
        defaults.update(dispatched_at=now, attempts=1)
    if status in (PromptStatus.DISPATCHED, PromptStatus.FAILED, PromptStatus.SKIPPED):
        defaults.update(finished_at=fields.get("dispatched_at", now))
    return PromptHistory.objects.create(
        scenario=scenario_, activity=activity_, status=status, **{**defaults, **fields}
    )
