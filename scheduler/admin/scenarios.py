from __future__ import annotations

from typing import Any, cast

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from scheduler import access, explain, report
from scheduler.admin.base import ChapterScopedAdmin
from scheduler.charts import weekly_bars
from scheduler.forms import ScenarioForm
from scheduler.models import Scenario
from scheduler.views.scenario_pages import describe_view, preview_view


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
        "preview_link",
    ]
    list_display_links = ["name"]
    list_filter = ["is_enabled", ("chapter", admin.RelatedOnlyFieldListFilter), "trigger_kind"]
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
                    "requires_wellbeing_concern",
                    "skip_if_followed_up",
                    "lookback_days",
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
        return explain.sentence(scenario)

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
            path(
                "describe/",
                wrap(lambda request: describe_view(self, request)),
                name="scheduler_scenario_describe",
            ),
            path(
                "<path:object_id>/preview/",
                wrap(lambda request, object_id: preview_view(self, request, object_id)),
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
            cast("Scenario | None", self.get_object(request, object_id))
            if object_id
            else Scenario()
        )
        if scenario is None:
            raise Http404
        extra = {
            "describe_url": reverse("admin:scheduler_scenario_describe"),
            "sentence": explain.sentence(scenario),
            **(extra_context or {}),
        }
        if object_id:
            extra["preview_url"] = reverse("admin:scheduler_scenario_preview", args=[object_id])
            weeks = report.weekly(request.user, scenario.pk, report.CHART_DAYS)
            extra["report_chart"] = weekly_bars(weeks, report.CHART_DAYS)
        return super().changeform_view(request, object_id, form_url, extra)


class FiguresChangeList(ChangeList):
    """The page's scenarios get their 30-day figures from one query, not one per row."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        ids = [scenario.pk for scenario in self.result_list]
        rows = report.scenario_report(request.user, report.DEFAULT_DAYS, scenario_ids=ids)
        by_id = {row.scenario_id: row.figures for row in rows}
        for scenario in self.result_list:
            scenario.report_figures = by_id.get(scenario.pk, report.Figures())


def figures_of(scenario: Scenario) -> report.Figures:
    return getattr(scenario, "report_figures", None) or report.Figures()
