"""A scenario's trigger, defined once.

Each `Condition` carries both the filter the evaluation adds to its query and
the words the admin shows for it, so the sentence a coordinator reads and the
prompts the scheduler sends cannot drift apart. Adding a condition touches
only `CONDITIONS`. `due_activities` is the rule's query; scheduler/due_prompts.py
streams the due prompts from it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import reduce
from operator import or_

from django.db.models import (
    BooleanField,
    Exists,
    ExpressionWrapper,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.lookups import Exact
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from scheduler.escalation.rule import describe_escalation
from scheduler.models import (
    OCCURRED_AT_EARLIEST,
    Activity,
    ActivityKind,
    PromptHistory,
    Scenario,
)
from scheduler.workdays import Calendars, Group, NoWorkingDay, WorkCalendar

logger = logging.getLogger(__name__)

# Matches no row, through the index (and compiles, unlike an empty `pk__in`): a
# calendar without working days, or a window with no start times, prompts nobody.
NOTHING = Q(occurred_at__lt=OCCURRED_AT_EARLIEST)


@dataclass(frozen=True)
class Condition:
    """One requirement of a rule.

    `where` filters Activity rows due at `now`; `phrase` is this condition's
    part of the rule sentence (empty when it adds nothing worth saying);
    `unmet` says in plain words why an activity that fails it gets no prompt.
    """

    key: str
    applies: Callable[[Scenario], bool]
    where: Callable[[Scenario, datetime], Q]
    phrase: Callable[[Scenario], str]
    unmet: Callable[[Scenario], str]
    # A deferring condition holds a prompt back instead of ruling it out: the
    # evaluation reports such prompts (counted as deferred) rather than dropping them.
    defers: bool = False


def _always(scenario: Scenario) -> bool:
    return True


def _nothing(scenario: Scenario) -> str:
    return ""


def _days(n: int) -> str:
    return ngettext("%(n)d day", "%(n)d days", n) % {"n": n}


def _working_days(n: int) -> str:
    return ngettext("%(n)d working day", "%(n)d working days", n) % {"n": n}


def kind_label(kind: str) -> str:
    return str(ActivityKind(kind).label)


def delay_of(scenario: Scenario) -> timedelta:
    """The delay in 24-hour days; a working-day delay has no fixed length (see `due_time`)."""
    return timedelta(days=scenario.delay_days)


def lookback_of(scenario: Scenario) -> timedelta:
    return timedelta(days=scenario.lookback_days)


def due_time(
    scenario: Scenario,
    occurred_at: datetime,
    chapter_id: int | None,
    calendars: Calendars | None = None,
) -> datetime:
    """When `scenario` is due for an activity at `occurred_at` by a mentor of `chapter_id`.

    Raises `NoWorkingDay` when that chapter's calendar has no working day within a year,
    and OverflowError past the year 9999.
    """
    if not scenario.counts_working_days:
        return occurred_at + delay_of(scenario)
    calendar = (calendars or Calendars.load()).for_chapter(chapter_id)
    return calendar.add_working_days(occurred_at, scenario.delay_days)


def due_window(
    scenario: Scenario,
    now: datetime,
    *,
    widened_by: timedelta = timedelta(0),
    calendars: Calendars | None = None,
) -> Q:
    """The due window on the indexed `occurred_at`: due_at in [now - lookback, now].

    In 24-hour days one range; in working days the inverse of the working-day map,
    a few ranges per distinct closed-day calendar, computed here, not per row.
    """
    now = now.astimezone(UTC)  # 24-hour days: instants, never wall-clock arithmetic
    if not scenario.counts_working_days:
        latest = now - delay_of(scenario)
        earliest = latest - lookback_of(scenario) - widened_by
        return Q(occurred_at__gte=earliest, occurred_at__lte=latest)
    groups = (calendars or Calendars.load()).groups(scenario.chapter_id)
    return reduce(or_, (group_window(scenario, now, cal, g, widened_by) for cal, g in groups))


def group_window(
    scenario: Scenario, now: datetime, calendar: WorkCalendar, group: Group, widened_by: timedelta
) -> Q:
    earliest = now.astimezone(UTC) - lookback_of(scenario) - widened_by
    try:
        times = calendar.started_q("occurred_at", earliest, now, scenario.delay_days)
    except NoWorkingDay as exc:
        logger.warning("scenario %s: %s; no prompts in that calendar", scenario.pk, exc)
        return NOTHING
    return NOTHING if times is None else times & group.q("peer_mentor__chapter_id")


def _when_phrase(scenario: Scenario) -> str:
    kind = kind_label(scenario.trigger_kind)
    if scenario.counts_working_days:
        if scenario.delay_days == 0:
            return _("Send right after a %(kind)s, or on the next working day") % {"kind": kind}
        return _("Send %(delay)s after a %(kind)s") % {
            "delay": _working_days(scenario.delay_days),
            "kind": kind,
        }
    if scenario.delay_days == 0:
        return _("Send right after a %(kind)s") % {"kind": kind}
    return _("Send %(delay)s after a %(kind)s") % {
        "delay": _days(scenario.delay_days),
        "kind": kind,
    }


def _not_followed_up(scenario: Scenario, now: datetime) -> Q:
    later = Activity.objects.filter(
        peer_mentor_id=OuterRef("peer_mentor_id"),
        contact_ref=OuterRef("contact_ref"),
        occurred_at__gt=OuterRef("occurred_at"),
        occurred_at__lte=now,
        withdrawn_at__isnull=True,
    )
    return ~Q(Exists(later))


def _not_prompted(scenario: Scenario, now: datetime) -> Q:
    prompted = PromptHistory.objects.filter(scenario_id=scenario.pk, activity_id=OuterRef("pk"))
    return ~Q(Exists(prompted))


def _chapter_phrase(scenario: Scenario) -> str:
    if scenario.chapter_id is None:
        return _("for mentors in every chapter")
    return _("for mentors in %(chapter)s") % {"chapter": scenario.chapter}


CONDITIONS: tuple[Condition, ...] = (
    Condition(
        key="trigger_kind",
        applies=_always,
        where=lambda s, now: Q(kind=s.trigger_kind),
        phrase=_when_phrase,
        unmet=lambda s: _("it is not a %(kind)s") % {"kind": kind_label(s.trigger_kind)},
    ),
    Condition(
        key="not_withdrawn",
        applies=_always,
        where=lambda s, now: Q(withdrawn_at__isnull=True),
        phrase=_nothing,
        unmet=lambda s: _("the mentor withdrew the activity"),
    ),
    Condition(
        key="wellbeing_concern",
        applies=lambda s: s.requires_wellbeing_concern,
        where=lambda s, now: Q(wellbeing_concern=True),
        phrase=lambda s: _("if a wellbeing concern was flagged"),
        unmet=lambda s: _("no wellbeing concern was flagged"),
    ),
    Condition(
        key="followed_up",
        applies=lambda s: s.skip_if_followed_up,
        where=_not_followed_up,
        phrase=lambda s: _("unless a later activity has been logged for the same contact"),
        unmet=lambda s: _("cancelled: a later activity was logged for the same contact"),
    ),
    Condition(
        key="chapter",
        applies=lambda s: s.chapter_id is not None,
        where=lambda s, now: Q(peer_mentor__chapter_id=s.chapter_id),
        phrase=_chapter_phrase,
        unmet=lambda s: _("the mentor is not in %(chapter)s") % {"chapter": s.chapter},
    ),
    Condition(
        key="mentor_active",
        applies=_always,
        where=lambda s, now: Q(peer_mentor__is_active=True),
        phrase=_nothing,
        unmet=lambda s: _("the mentor is inactive"),
    ),
    Condition(
        key="paused",
        applies=_always,
        where=lambda s, now: (
            Q(peer_mentor__prompts_paused_until__isnull=True)
            | Q(peer_mentor__prompts_paused_until__lte=now)
        ),
        phrase=_nothing,
        unmet=lambda s: _("the mentor's prompts are paused"),
        defers=True,
    ),
    Condition(
        key="window",
        applies=_always,
        where=due_window,
        phrase=lambda s: _("at most %(lookback)s late") % {"lookback": _days(s.lookback_days)},
        unmet=lambda s: _("not due now (before its due time or too late)"),
    ),
    Condition(
        key="not_prompted",
        applies=_always,
        where=_not_prompted,
        phrase=_nothing,
        unmet=lambda s: _("already prompted"),
    ),
)


# Conditions whose filter is a correlated subquery, cheapest first; the rest rank 0.
SUBQUERY_RANK = {"not_prompted": 1, "followed_up": 2}


def conditions_for(scenario: Scenario) -> Iterator[Condition]:
    return (c for c in CONDITIONS if c.applies(scenario))


def describe(scenario: Scenario) -> str:
    """The rule in one sentence, built from the same conditions the query uses."""
    phrases = [c.phrase(scenario) for c in conditions_for(scenario)]
    sentence = ", ".join(p for p in phrases if p)
    return sentence + describe_escalation(scenario) + "."


def due_activities(
    scenario: Scenario,
    now: datetime,
    *,
    with_deferred: bool = False,
    reclaimable: Q | None = None,
    too_late_within: timedelta | None = None,
    window: Q | None = None,
    mentor_filter: Q | Exact | None = None,
) -> QuerySet[Activity]:
    """Activities for which `scenario` is due at `now` and not yet prompted: one query.

    With `with_deferred`, activities held back only by a deferring condition
    are kept, each annotated `meets_<key>` so the caller can count them.
    With `reclaimable` (a filter on PromptHistory), the rule is checked again
    for activities that already have such a history row instead, annotated
    with its `history_id`: a retry is sent only while its rule still holds.
    With `too_late_within`, the window also reaches that far back before the
    lookback, so the same query finds the prompts that became too late then.
    `window`, when given, stands for the window condition's filter (one
    working-day calendar's ranges, already widened as needed).
    `mentor_filter` (on the activity's `peer_mentor_id`) keeps one shard's mentors.
    """
    qs = Activity.objects.all()
    if mentor_filter is not None:
        qs = qs.filter(mentor_filter)
    # SQLite tests WHERE terms in the order written: correlated subqueries last,
    # so they run only for rows every cheap condition already kept.
    for condition in sorted(conditions_for(scenario), key=lambda c: SUBQUERY_RANK.get(c.key, 0)):
        if condition.key == "not_prompted" and reclaimable is not None:
            continue
        where = condition.where(scenario, now)
        if condition.key == "window" and window is not None:
            where = window
        elif condition.key == "window" and too_late_within is not None:
            where = due_window(scenario, now, widened_by=too_late_within)
        if condition.defers and with_deferred:
            qs = qs.annotate(
                **{f"meets_{condition.key}": ExpressionWrapper(where, output_field=BooleanField())}
            )
        else:
            qs = qs.filter(where)
    if reclaimable is not None:
        # Start from the few reclaimable rows, not from every activity in the window.
        rows = PromptHistory.objects.filter(reclaimable, scenario_id=scenario.pk)
        qs = qs.filter(pk__in=rows.values("activity_id")).annotate(
            history_id=Subquery(rows.filter(activity_id=OuterRef("pk")).values("pk")[:1])
        )
    return qs
