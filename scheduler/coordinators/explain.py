"""Why a scenario will, will not, or did prompt for one activity.

Each verdict is built by running the activity through every condition of
`scheduler.rules.CONDITIONS` (the same `where` filters the dispatch query
uses), so the explanation cannot disagree with what the scheduler does.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import BooleanField, ExpressionWrapper
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from scheduler.dispatch import policy
from scheduler.models import Activity, ActivityKind, DeviceToken, PromptHistory, Scenario
from scheduler.rules import conditions_for, delay_of, describe, lookback_of

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
    # Every unmet condition in plain words, for the details line.
    unmet: tuple[str, ...] = field(default_factory=tuple)

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


def rule_problem(scenario: Scenario) -> str | None:
    """Why a row saved without validation cannot be evaluated (the pipeline skips it)."""
    if scenario.trigger_kind not in ActivityKind.values:
        return _("unknown trigger activity “%(kind)s”") % {"kind": scenario.trigger_kind}
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
    conditions = {c.key: c for c in conditions_for(scenario)}
    words = tuple(conditions[key].unmet(scenario) for key in unmet)
    due_at = shifted(activity.occurred_at, delay_of(scenario))

    def verdict(state: str, message: str) -> Verdict:
        return Verdict(scenario, state, message, due_at, history, words)

    if due_at is None:
        return verdict(NO, _("Its due time falls outside the calendar: no prompt can be sent."))
    if history is not None:
        return verdict(
            PROMPTED,
            _("Already prompted on %(date)s (%(status)s).")
            % {"date": when(history.created_at), "status": history.get_status_display()},
        )
    ruled_out = ruled_out_verdict(verdict, activity, scenario, unmet, due_at, now)
    return ruled_out or sendable_verdict(verdict, now, has_device=has_device)


def ruled_out_verdict(
    verdict: Callable[[str, str], Verdict],
    activity: Activity,
    scenario: Scenario,
    unmet: Collection[str],
    due_at: datetime,
    now: datetime,
) -> Verdict | None:
    """Why a condition of the rule keeps this activity from a prompt, if one does."""
    conditions = {c.key: c for c in conditions_for(scenario)}
    for key in NOT_APPLICABLE:
        if key in unmet:
            return verdict(
                NO, _("Does not apply: %(reason)s.") % {"reason": conditions[key].unmet(scenario)}
            )
    if "followed_up" in unmet:
        return verdict(NO, _("Cancelled because a later activity was logged for the same contact."))
    if "mentor_active" in unmet:
        return verdict(NO, _("The mentor is inactive."))
    if "window" in unmet:
        return window_verdict(verdict, scenario, due_at, now)
    if "paused" in unmet:
        paused_until = activity.peer_mentor.prompts_paused_until
        assert paused_until is not None  # the unmet "paused" condition says it is set
        return verdict(
            HELD,
            _("Due, but the mentor has paused prompts until %(date)s.")
            % {"date": when(paused_until)},
        )
    return None


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
