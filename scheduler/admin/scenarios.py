from __future__ import annotations

from datetime import UTC
from typing import Any, cast

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import conditional_escape, format_html
from django.utils.translation import gettext_lazy as _

from scheduler import access
from scheduler.admin.base import ChapterScopedAdmin, shortened
from scheduler.coordinators import explain, report
from scheduler.coordinators.charts import weekly_bars
from scheduler.coordinators.forms import RealDataForm, ScenarioForm, SimulationForm
from scheduler.coordinators.preview.real_data import preview_real_data
from scheduler.coordinators.preview.simulation import TestActivity, simulate
from scheduler.models import Scenario


class EveryChapterFilter(admin.RelatedOnlyFieldListFilter):
    """The choice for chapter-less scenarios says what they are: for every chapter."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.empty_value_display = conditional_escape(_("every chapter"))


@admin.register(Scenario)
class ScenarioAdmin(ChapterScopedAdmin):
    form = ScenarioForm
    includes_chapterless = True
    list_display = [
        "name",
        "is_enabled",
        "chapter_label",
        "sentence",
        "sent_30_days",
        "opened_30_days",
        "followed_up_30_days",
        "escalated_30_days",
        "preview_link",
    ]
    list_display_links = ["name"]
    list_filter = ["is_enabled", ("chapter", EveryChapterFilter), "trigger_kind"]
    list_select_related = ["chapter"]
    search_fields = ["name", "title"]
    fieldsets = [
        (None, {"fields": ["name", "is_enabled", "chapter"]}),
        (
            _("When the prompt is sent"),
            {
                "fields": [
                    "trigger_kind",
                    "delay_days",
                    "delay_unit",
                    "requires_wellbeing_concern",
                    "skip_if_followed_up",
                    "lookback_days",
                    "escalate_after_days",
                ]
            },
        ),
        (_("What the mentor's phone shows"), {"fields": ["title", "body"]}),
    ]

    @admin.display(description=_("chapter"), ordering="chapter__name")
    def chapter_label(self, scenario: Scenario) -> str:
        return str(scenario.chapter) if scenario.chapter_id else str(_("every chapter"))

    @admin.display(description=_("rule"))
    def sentence(self, scenario: Scenario) -> str:
        return shortened(explain.sentence(scenario))

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return FiguresChangeList

    @admin.display(description=_("sent (30 days)"))
    def sent_30_days(self, scenario: Scenario) -> int:
        return figures_of(scenario).sent

    @admin.display(description=_("opened (30 days)"))
    def opened_30_days(self, scenario: Scenario) -> str:
        return figures_of(scenario).opened_text

    @admin.display(description=_("followed up (30 days)"))
    def followed_up_30_days(self, scenario: Scenario) -> str:
        return figures_of(scenario).followed_up_text

    @admin.display(description=_("escalated (30 days)"))
    def escalated_30_days(self, scenario: Scenario) -> int:
        return getattr(scenario, "report_escalated", 0)

    @admin.display(description=_("preview"))
    def preview_link(self, scenario: Scenario) -> str:
        url = reverse("admin:scheduler_scenario_preview", args=[scenario.pk])
        return format_html('<a href="{}">{}</a>', url, _("Preview"))

    def get_form(
        self, request: HttpRequest, obj: Scenario | None = None, change: bool = False, **kwargs: Any
    ) -> type[ScenarioForm]:
        base = super().get_form(request, obj, change, **kwargs)
        user = request.user

        class UserScenarioForm(base):  # type: ignore[misc, valid-type]
            def __init__(self, *args: Any, **kw: Any) -> None:
                super().__init__(*args, user=user, **kw)

        return UserScenarioForm

    def has_change_permission(self, request: HttpRequest, obj: Scenario | None = None) -> bool:
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or access.may_edit_chapter(request.user, obj.chapter_id))

    def has_delete_permission(self, request: HttpRequest, obj: Scenario | None = None) -> bool:
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or access.may_edit_chapter(request.user, obj.chapter_id))

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("describe/", wrap(self.describe_view), name="scheduler_scenario_describe"),
            path(
                "<path:object_id>/preview/",
                wrap(self.preview_view),
                name="scheduler_scenario_preview",
            ),
            *super().get_urls(),
        ]

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        scenario = (
            cast("Scenario", self.get_object(request, object_id)) if object_id else Scenario()
        )
        extra = {
            "describe_url": reverse("admin:scheduler_scenario_describe"),
            "sentence": explain.sentence(scenario),
            "duplicate_warning": explain.duplicate_warning(scenario) if scenario.is_enabled else "",
            **(extra_context or {}),
        }
        if object_id:
            extra["preview_url"] = reverse("admin:scheduler_scenario_preview", args=[object_id])
            weeks = report.weekly(request.user, scenario.pk, report.CHART_DAYS)
            extra["report_chart"] = weekly_bars(weeks, report.CHART_DAYS)
        return super().changeform_view(request, object_id, form_url, extra)

    def describe_view(self, request: HttpRequest) -> HttpResponse:
        """The sentence of an unsaved scenario built from the form's current values."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        form = ScenarioForm(request.GET, user=request.user)
        form.is_valid()
        scenario = Scenario(pk=scenario_id(request.GET.get("scenario")))
        for name, value in form.cleaned_data.items():
            setattr(scenario, name, value)
        warning = explain.duplicate_warning(scenario) if scenario.is_enabled else ""
        # The box says the rule being built; missing text is for the form's errors.
        scenario.is_enabled = False
        return JsonResponse(
            {
                "sentence": explain.sentence(scenario),
                "errors": form.errors.get_json_data(),
                "duplicate_warning": warning,
            }
        )

    def save_model(
        self, request: HttpRequest, obj: Scenario, form: ScenarioForm, change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        warning = explain.duplicate_warning(obj) if obj.is_enabled else ""
        if warning:
            self.message_user(request, warning, messages.WARNING)

    def preview_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """A described test activity's verdict, and a preview on real data."""
        scenario = cast("Scenario", self.viewable_object(request, object_id))
        now = timezone.now()
        simulation_form = SimulationForm(
            request.GET if "sim-kind" in request.GET else None, scenario=scenario
        )
        real_data_form = RealDataForm(request.GET if "dry-days" in request.GET else None)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": scenario,
            "title": scenario.name,
            "scenario": scenario,
            "sentence": explain.sentence(scenario),
            "simulation_form": simulation_form,
            "real_data_form": real_data_form,
            "media": self.media + simulation_form.media,
            "has_view_permission": True,
        }
        as_if = real_data_form.cleaned_data.get("at") if real_data_form.is_valid() else None
        if as_if:
            context["as_if"] = as_if
            now = as_if.astimezone(UTC)  # as the real clock gives it
        if simulation_form.is_bound and simulation_form.is_valid():
            data = simulation_form.cleaned_data
            test = TestActivity(
                data["kind"], data["occurred_at"], data["wellbeing_concern"], data["followed_up"]
            )
            context["simulation"] = simulate(scenario, test, now)
        if real_data_form.is_bound and real_data_form.is_valid():
            days = real_data_form.cleaned_data["days"]
            context["real_data"] = preview_real_data(scenario, request.user, now, days)
        return TemplateResponse(request, "admin/scheduler/scenario/preview.html", context)


def scenario_id(value: str | None) -> int | None:
    """The scenario being edited, which is no duplicate of itself."""
    return int(value) if value and value.isdigit() else None


class FiguresChangeList(ChangeList):
    """The page's scenarios get their 30-day figures from one query, not one per row."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        ids = [scenario.pk for scenario in self.result_list]
        rows = report.scenario_report(request.user, report.DEFAULT_DAYS, scenario_ids=ids)
        by_id = {row.scenario_id: row for row in rows}
        for scenario in self.result_list:
            row = by_id.get(scenario.pk)
            scenario.report_figures = row.figures if row else report.Figures()
            scenario.report_escalated = row.escalated if row else 0


def figures_of(scenario: Scenario) -> report.Figures:
    return getattr(scenario, "report_figures", None) or report.Figures()
