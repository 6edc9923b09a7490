"""When an escalation is due, defined once: its words and its query.

Each `EscalationCondition` carries the filter the run adds to its query over
PromptHistory and the words the rule sentence gets for it, as the due rule's
conditions do in scheduler/rules.py. Adding a condition touches only
`ESCALATION_CONDITIONS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from scheduler.models import (
    FINISHED_STATUSES,
    OCCURRED_AT_EARLIEST,
    Activity,
    Escalation,
    PromptHistory,
    Scenario,
)
from scheduler.workdays import Calendars


@dataclass(frozen=True)
class EscalationCondition:
    """One requirement of an escalation: `where` filters PromptHistory rows at `now`."""

    key: str
    where: Callable[[Scenario, datetime], Q]
    phrase: Callable[[Scenario], str]


def lookback() -> timedelta:
    return timedelta(days=settings.ESCALATION_LOOKBACK_DAYS)


def escalates_at(
    scenario: Scenario,
    finished_at: datetime,
    chapter_id: int | None = None,
    calendars: Calendars | None = None,
) -> datetime:
    """The moment a prompt finished at `finished_at` escalates, if not followed up by then:
    `escalate_after_days` later in the scenario's unit, in the calendar of `chapter_id`."""
    assert scenario.escalate_after_days is not None
    if not scenario.counts_working_days:
        return finished_at + timedelta(days=scenario.escalate_after_days)
    calendar = (calendars or Calendars.load()).for_chapter(chapter_id)
    return calendar.add_working_days(finished_at, scenario.escalate_after_days)


def finished_window(scenario: Scenario, now: datetime) -> tuple[datetime, datetime]:
    """In 24-hour days, the `finished_at` range whose escalation moment lies in
    [now - lookback, now], the inverse of `escalates_at`. Both ends inclusive."""
    assert scenario.escalate_after_days is not None
    after = timedelta(days=scenario.escalate_after_days)
    latest = now - after
    return latest - lookback(), latest


# Matches no row through the index: a calendar without working days escalates nobody.
NOTHING = Q(finished_at__lt=OCCURRED_AT_EARLIEST)


def _in_window(scenario: Scenario, now: datetime) -> Q:
    """The one place that counts `escalate_after_days` for the query.

    In working days the inverse of the working-day map, a few `finished_at` ranges per
    distinct closed-day calendar, computed here, never per row.
    """
    if not scenario.counts_working_days:
        earliest, latest = finished_window(scenario, now)
        return Q(finished_at__gte=earliest, finished_at__lte=latest)
    assert scenario.escalate_after_days is not None
    found = Calendars.load().window_q(
        "finished_at",
        "peer_mentor__chapter_id",
        now - lookback(),
        now,
        scenario.escalate_after_days,
        scenario.chapter_id,
    )
    return NOTHING if found is None else found


def later_activity(now: datetime) -> QuerySet[Activity]:
    """A follow-up of an OuterRef'd prompt: the same mentor and contact, after its activity."""
    return Activity.objects.filter(
        peer_mentor_id=OuterRef("peer_mentor_id"),
        contact_ref=OuterRef("activity__contact_ref"),
        occurred_at__gt=OuterRef("activity__occurred_at"),
        occurred_at__lte=now,
        withdrawn_at__isnull=True,
    )


def _not_followed_up(scenario: Scenario, now: datetime) -> Q:
    return ~Q(Exists(later_activity(now)))


def _not_escalated(scenario: Scenario, now: datetime) -> Q:
    return ~Q(Exists(Escalation.objects.filter(prompt_id=OuterRef("pk"))))


def _days(n: int) -> str:
    return ngettext("%(n)d day", "%(n)d days", n) % {"n": n}


def _working_days(n: int) -> str:
    return ngettext("%(n)d working day", "%(n)d working days", n) % {"n": n}


def _phrase(scenario: Scenario) -> str:
    assert scenario.escalate_after_days is not None
    count = _working_days if scenario.counts_working_days else _days
    return _("and tell the coordinators if not followed up within %(days)s") % {
        "days": count(scenario.escalate_after_days)
    }


def _silent(scenario: Scenario) -> str:
    return ""


ESCALATION_CONDITIONS: tuple[EscalationCondition, ...] = (
    EscalationCondition(key="scenario", where=lambda s, now: Q(scenario_id=s.pk), phrase=_silent),
    EscalationCondition(
        key="finished", where=lambda s, now: Q(status__in=FINISHED_STATUSES), phrase=_silent
    ),
    EscalationCondition(key="window", where=_in_window, phrase=_phrase),
    EscalationCondition(
        key="not_withdrawn",
        where=lambda s, now: Q(activity__withdrawn_at__isnull=True),
        phrase=_silent,
    ),
    # Correlated subqueries last: SQLite tests WHERE terms in the order written.
    EscalationCondition(key="not_escalated", where=_not_escalated, phrase=_silent),
    EscalationCondition(key="not_followed_up", where=_not_followed_up, phrase=_silent),
)


def escalates(scenario: Scenario) -> bool:
    return scenario.escalate_after_days is not None


def phrases(scenario: Scenario) -> Iterator[str]:
    if escalates(scenario):
        yield from (p for c in ESCALATION_CONDITIONS if (p := c.phrase(scenario)))


def describe_escalation(scenario: Scenario) -> str:
    """The rule sentence's ending, e.g. " and tell the coordinators if not followed up within 5 days"."""
    return "".join(f" {p}" for p in phrases(scenario))


def due_escalations(scenario: Scenario, now: datetime) -> QuerySet[PromptHistory]:
    """The scenario's prompts whose escalation is due at `now`: one query."""
    qs = PromptHistory.objects.all()
    for condition in ESCALATION_CONDITIONS:
        qs = qs.filter(condition.where(scenario, now))
    return qs
