"""Why a scenario will, will not, or did prompt for one activity.

Each verdict is built by running the activity through every condition of
`scheduler.rules.CONDITIONS` (the same `where` filters the dispatch query
uses), so the explanation cannot disagree with what the scheduler does.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.utils import formats, timezone, translation
from django.utils.text import capfirst, get_text_list
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from scheduler.dispatch import policy
from scheduler.models import Activity, ActivityKind, DeviceToken, PromptHistory, Scenario
from scheduler.rules import conditions_for, describe, due_time, lookback_of
from scheduler.workdays import Calendars, NoWorkingDay, WorkCalendar

DUE_NOW = "due_now"
DUE_LATER = "due_later"
PROMPTED = "prompted"
HELD = "held"
NO = "no"
INVALID = "invalid"

# Conditions that say the scenario is not about this activity at all.
NOT_APPLICABLE = ("not_withdrawn", "trigger_kind", "wellbeing_concern", "chapter")


@dataclass(frozen=True)
class Verdict:
    scenario: Scenario
    state: str
    message: str
    # None when the due time falls outside the calendar.
    due_at: datetime | None
    history: PromptHistory | None = None
    # The other unmet conditions in plain words (not the deciding one), for the details line.
    unmet: tuple[str, ...] = field(default_factory=tuple)
    # Set when a public holiday or a closed day moved a working-day due time, in words.
    moved: str = ""

    @property
    def is_due(self) -> bool:
        return self.state == DUE_NOW


def when(moment: datetime) -> str:
    try:
        shown = timezone.localtime(moment)
    except OverflowError:
        # The last hours of the year 9999 have no local time: UTC rather than nothing.
        shown = moment
    return formats.date_format(shown, "DATETIME_FORMAT")


def activity_summary(activity: Activity) -> str:
    """ "First contact by Ola, 4 Dec 2026, 14:55." with one full stop, whatever the format ends in."""
    text = _("%(kind)s by %(mentor)s, %(when)s") % {
        "kind": activity.get_kind_display(),
        "mentor": activity.peer_mentor,
        "when": when(activity.occurred_at),
    }
    text = capfirst(text) or ""
    return text if text.endswith(".") else text + "."


def same_rule(scenario: Scenario) -> QuerySet[Scenario]:
    """Other enabled scenarios with this rule for an overlapping chapter.

    Both would prompt a mentor for the same activity at the same time: two prompts for one
    activity. The lookback is left out (it only says how late a prompt may still go).
    """
    others = Scenario.objects.filter(
        is_enabled=True,
        trigger_kind=scenario.trigger_kind,
        delay_days=scenario.delay_days,
        delay_unit=scenario.delay_unit,
        requires_wellbeing_concern=scenario.requires_wellbeing_concern,
        skip_if_followed_up=scenario.skip_if_followed_up,
    )
    if scenario.chapter_id is not None:
        others = others.filter(Q(chapter_id=scenario.chapter_id) | Q(chapter__isnull=True))
    if scenario.pk is not None:
        others = others.exclude(pk=scenario.pk)
    return others.order_by("name", "pk")


def duplicate_warning(scenario: Scenario) -> str:
    """What the form says when enabling this scenario would prompt twice; empty if it would not."""
    names = [f"“{name}”" for name in same_rule(scenario).values_list("name", flat=True)[:5]]
    if not names:
        return ""
    return ngettext(
        "The enabled scenario %(names)s has the same rule for the same mentors: with both "
        "enabled, a mentor gets two prompts for one activity.",
        "The enabled scenarios %(names)s have the same rule for the same mentors: with them "
        "enabled, a mentor gets several prompts for one activity.",
        len(names),
    ) % {"names": ", ".join(names)}


def rule_problem(scenario: Scenario) -> str | None:
    """Why a row saved without validation cannot be evaluated or sent (the pipeline skips it)."""
    if scenario.trigger_kind not in ActivityKind.values:
        return _("unknown trigger activity “%(kind)s”") % {"kind": scenario.trigger_kind}
    if scenario.is_enabled and scenario.missing_text():
        return _("no title or message to send")
    return None


def sentence(scenario: Scenario) -> str:
    """The rule sentence, or what makes the rule invalid."""
    problem = rule_problem(scenario)
    if problem is not None:
        return _("invalid rule: %(problem)s") % {"problem": problem}
    return describe(scenario)


def shifted(moment: datetime, by: timedelta) -> datetime | None:
    """`moment + by`, or None past the year 9999."""
    try:
        return moment + by
    except OverflowError:
        return None


def shifted_due(
    scenario: Scenario, activity: Activity, calendars: Calendars | None
) -> datetime | None:
    """The activity's due time by the scenario's rule, or None past the year 9999."""
    try:
        return due_time(scenario, activity.occurred_at, activity.peer_mentor.chapter_id, calendars)
    except OverflowError:
        return None


def moved_words(
    scenario: Scenario, activity: Activity, calendars: Calendars | None, due_at: datetime
) -> str:
    """ "waits until Tuesday 7 April: Maundy Thursday and Easter Monday are days off",
    when a public holiday or a closed day moved the due time; else empty."""
    if calendars is None:
        return ""
    calendar = calendars.for_chapter(activity.peer_mentor.chapter_id)
    start = timezone.localtime(activity.occurred_at, calendar.zone).date()
    due_day = timezone.localtime(due_at, calendar.zone).date()
    first = start if scenario.delay_days == 0 else start + timedelta(days=1)
    return waits_until(calendar, first, due_day)


def waits_until(calendar: WorkCalendar, first: date, due_day: date) -> str:
    closed = calendar.closed_weekdays(first, due_day - timedelta(days=1))
    names = list(dict.fromkeys(name for _day, why in closed for name in why))
    if not names:
        return ""
    shown = [lowercase_holiday(name) for name in names]
    reasons = ngettext("%(names)s is a day off", "%(names)s are days off", len(shown)) % {
        "names": get_text_list(shown, _("and"))
    }
    day = formats.date_format(due_day, _("l j F"))
    return _("waits until %(day)s: %(reasons)s") % {"day": day, "reasons": reasons}


def lowercase_holiday(name: str) -> str:
    # Norwegian writes holidays in lower case within a sentence ("skjærtorsdag").
    language = (translation.get_language() or "").lower()
    return name[:1].lower() + name[1:] if language.startswith("nb") else name


def unmet_conditions(activity: Activity, scenario: Scenario, now: datetime) -> list[str]:
    """Keys of the conditions the activity fails at `now`: one query, one column each."""
    conditions = list(conditions_for(scenario))
    columns = {
        f"meets_{c.key}": ExpressionWrapper(c.where(scenario, now), output_field=BooleanField())
        for c in conditions
    }
    row = Activity.objects.filter(pk=activity.pk).annotate(**columns).values(*columns).first()
    if row is None:
        return []
    return [c.key for c in conditions if not row[f"meets_{c.key}"]]


def explain(
    activity: Activity,
    scenarios: Iterable[Scenario],
    now: datetime | None = None,
) -> list[Verdict]:
    """One verdict per scenario for `activity` at `now`."""
    now = now or timezone.now()
    scenarios = list(scenarios)
    history = {
        h.scenario_id: h
        for h in PromptHistory.objects.filter(
            activity=activity, scenario__in=[s.pk for s in scenarios]
        )
    }
    has_device = DeviceToken.objects.filter(
        peer_mentor_id=activity.peer_mentor_id, is_active=True
    ).exists()
    return [
        verdict_for(activity, s, now, history.get(s.pk), has_device=has_device) for s in scenarios
    ]


# The order in which unmet conditions decide a verdict: the first one met here is the reason.
DECIDING_ORDER = (*NOT_APPLICABLE, "followed_up", "mentor_active", "window", "paused")


def verdict_for(
    activity: Activity,
    scenario: Scenario,
    now: datetime,
    history: PromptHistory | None,
    *,
    has_device: bool,
) -> Verdict:
    problem = rule_problem(scenario)
    if problem is not None:
        message = _("Invalid rule: %(problem)s. No prompt is sent for it.") % {"problem": problem}
        return Verdict(scenario, INVALID, message, None, history)
    unmet = unmet_conditions(activity, scenario, now)
    calendars = Calendars.load() if scenario.counts_working_days else None
    try:
        due_at = shifted_due(scenario, activity, calendars)
    except NoWorkingDay:
        message = _(
            "The chapter's calendar has no working day within a year (a closed period covers "
            "every day): no prompt can be sent."
        )
        return Verdict(scenario, NO, message, None, history)
    decider = None if history is not None else next((k for k in DECIDING_ORDER if k in unmet), None)
    moved = moved_words(scenario, activity, calendars, due_at) if due_at else ""

    def verdict(state: str, message: str) -> Verdict:
        others = other_reasons(scenario, unmet, decider, due_at, now) if state != PROMPTED else ()
        if moved and state in (DUE_NOW, DUE_LATER, HELD):
            message = f"{message} {capfirst(moved)}."
        return Verdict(scenario, state, message, due_at, history, others, moved)

    if due_at is None:
        return verdict(NO, _("Its due time falls outside the calendar: no prompt can be sent."))
    if history is not None:
        return verdict(
            PROMPTED,
            _("Already prompted on %(date)s (%(status)s).")
            % {"date": when(history.created_at), "status": history.get_status_display()},
        )
    if decider is not None:
        return ruled_out_verdict(verdict, activity, scenario, decider, due_at, now)
    return sendable_verdict(verdict, now, has_device=has_device)


def other_reasons(
    scenario: Scenario,
    unmet: Collection[str],
    decider: str | None,
    due_at: datetime | None,
    now: datetime,
) -> tuple[str, ...]:
    """The unmet conditions besides the deciding one, worth knowing when that one goes away.

    None when the scenario does not apply at all; "already prompted" never (the history says it).
    """
    if decider in NOT_APPLICABLE:
        return ()
    conditions = {c.key: c for c in conditions_for(scenario)}
    reasons = []
    for key in unmet:
        if key in (decider, "not_prompted"):
            continue
        if key == "window" and due_at is not None:
            reasons.append(window_words(scenario, due_at, now))
        else:
            reasons.append(conditions[key].unmet(scenario))
    return tuple(reasons)


def window_words(scenario: Scenario, due_at: datetime, now: datetime) -> str:
    """Which side of its window the activity is on: never "before or too late"."""
    if due_at > now:
        return _("not due until %(date)s") % {"date": when(due_at)}
    return _("too late since %(date)s") % {"date": when(due_at + lookback_of(scenario))}


def ruled_out_verdict(
    verdict: Callable[[str, str], Verdict],
    activity: Activity,
    scenario: Scenario,
    decider: str,
    due_at: datetime,
    now: datetime,
) -> Verdict:
    """The verdict of the one unmet condition that decides."""
    if decider in NOT_APPLICABLE:
        conditions = {c.key: c for c in conditions_for(scenario)}
        return verdict(
            NO, _("Does not apply: %(reason)s.") % {"reason": conditions[decider].unmet(scenario)}
        )
    if decider == "followed_up":
        return verdict(NO, _("Cancelled because a later activity was logged for the same contact."))
    if decider == "mentor_active":
        return verdict(NO, _("The mentor is inactive."))
    if decider == "window":
        return window_verdict(verdict, scenario, due_at, now)
    paused_until = activity.peer_mentor.prompts_paused_until
    assert paused_until is not None  # the unmet "paused" condition says it is set
    return verdict(
        HELD,
        _("Due, but the mentor has paused prompts until %(date)s.") % {"date": when(paused_until)},
    )


def sendable_verdict(
    verdict: Callable[[str, str], Verdict], now: datetime, *, has_device: bool
) -> Verdict:
    if not has_device:
        return verdict(NO, _("Due, but the mentor has no active device: nothing can be sent."))
    quiet_until = policy.quiet_hours_end(now)
    if quiet_until is not None:
        return verdict(
            HELD,
            _("Due, but it is quiet hours: it will be sent after %(date)s.")
            % {"date": when(quiet_until)},
        )
    return verdict(DUE_NOW, _("Due now: the next dispatch run sends it."))


def window_verdict(
    verdict: Callable[[str, str], Verdict], scenario: Scenario, due_at: datetime, now: datetime
) -> Verdict:
    if due_at > now:
        return verdict(DUE_LATER, _("Due on %(date)s.") % {"date": when(due_at)})
    return verdict(
        NO,
        _("Too late: it was due on %(due)s and could be sent until %(until)s.")
        % {"due": when(due_at), "until": when(due_at + lookback_of(scenario))},
    )
