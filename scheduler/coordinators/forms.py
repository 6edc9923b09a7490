"""Forms coordinators fill in: a scenario, and the two previews of one."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib.admin import widgets as admin_widgets
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from scheduler import access
from scheduler.coordinators import explain
from scheduler.models import ActivityKind, DelayUnit, Scenario
from scheduler.text import is_blank
from scheduler.workdays import SEARCH_DAYS

REAL_DATA_DAYS_DEFAULT = 30
REAL_DATA_DAYS_MAX = 90


class ScenarioForm(forms.ModelForm):
    """Plain fields with help texts; the chapter is limited to the user's own."""

    class Meta:
        model = Scenario
        fields = [
            "name",
            "is_enabled",
            "chapter",
            "trigger_kind",
            "delay_days",
            "delay_unit",
            "requires_wellbeing_concern",
            "skip_if_followed_up",
            "lookback_days",
            "escalate_after_days",
            "title",
            "body",
        ]
        widgets = {"body": forms.Textarea(attrs={"rows": 3, "maxlength": 240})}
        help_texts = {
            "name": _("Only coordinators see the name."),
            "is_enabled": _("Prompts are sent only for enabled scenarios."),
            "requires_wellbeing_concern": _(
                "Only prompt when the mentor flagged a wellbeing concern on the activity."
            ),
            "title": _("Shown in bold on the mentor's phone (at most 65 characters)."),
            "body": _("The message text on the mentor's phone (at most 240 characters)."),
        }

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        if self.instance.pk is None and "delay_unit" not in self.initial:
            # Coordinators think in working days; existing scenarios keep what they have.
            self.initial["delay_unit"] = DelayUnit.WORKING_DAYS
        unit = self.fields.get("delay_unit")
        if unit is not None:
            # Left out of a request, the scenario keeps its unit (24-hour days by default).
            unit.required = False
        chapter = self.fields.get("chapter")
        if (
            isinstance(chapter, forms.ModelChoiceField)
            and user is not None
            and not access.sees_everything(user)
        ):
            chapter.queryset = access.chapters_for(user)
            chapter.required = True
            chapter.empty_label = None
            chapter.help_text = _("The chapter whose mentors get this prompt.")

    def clean_delay_unit(self) -> str:
        return self.cleaned_data.get("delay_unit") or self.instance.delay_unit

    def clean_title(self) -> str:
        return nothing_if_blank(self.cleaned_data["title"])

    def clean_body(self) -> str:
        return nothing_if_blank(self.cleaned_data["body"])


def nothing_if_blank(text: str) -> str:
    """Text the phone would show as nothing (a zero-width space) is kept as no text at all."""
    return "" if is_blank(text) else text


class SimulationForm(forms.Form):
    """A test activity described by the coordinator; never saved."""

    kind = forms.ChoiceField(label=_("kind"), choices=ActivityKind.choices)
    occurred_at = forms.SplitDateTimeField(
        label=_("occurred at"), widget=admin_widgets.AdminSplitDateTime
    )
    wellbeing_concern = forms.BooleanField(label=_("wellbeing concern flagged"), required=False)
    followed_up = forms.BooleanField(
        label=_("followed up"),
        required=False,
        help_text=_("The mentor logged a later activity for the same contact before the due time."),
    )

    prefix = "sim"

    def __init__(self, *args: Any, scenario: Scenario, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "kind": scenario.trigger_kind,
                "occurred_at": timezone.localtime().replace(second=0, microsecond=0),
                "wellbeing_concern": scenario.requires_wellbeing_concern,
            },
        )
        super().__init__(*args, **kwargs)
        self.scenario = scenario

    def clean_occurred_at(self) -> Any:
        occurred_at = self.cleaned_data["occurred_at"]
        # Room for the delay, the lookback and a follow-up: every date the preview works out.
        days = self.scenario.delay_days + self.scenario.lookback_days + 1
        if self.scenario.delay_unit == DelayUnit.WORKING_DAYS:
            days += self.scenario.delay_days + SEARCH_DAYS  # weekends, holidays, closed days
        if explain.shifted(occurred_at, timedelta(days=days)) is None:
            raise forms.ValidationError(
                _("This date is too far in the future to work out when a prompt would be due.")
            )
        return occurred_at


class RealDataForm(forms.Form):
    days = forms.IntegerField(
        label=_("days back"),
        min_value=1,
        max_value=REAL_DATA_DAYS_MAX,
        initial=REAL_DATA_DAYS_DEFAULT,
        help_text=_("How many days back to count the prompts this scenario would have sent."),
    )
    at = forms.SplitDateTimeField(
        label=_("as if it were"),
        required=False,
        widget=admin_widgets.AdminSplitDateTime,
        help_text=_(
            "Leave empty for now. A moment to look at instead, for example Easter: what a run "
            "then would send, with the quiet hours and pauses of that moment."
        ),
    )

    prefix = "dry"
