from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from scheduler import access, explain
from scheduler.admin.base import ChapterScopedAdmin
from scheduler.forms import ScenarioForm
from scheduler.models import Scenario
from scheduler.views.scenario_pages import describe_view, preview_view


@admin.register(Scenario)
class ScenarioAdmin(ChapterScopedAdmin):
    form = ScenarioForm
    includes_chapterless = True
    list_display = ["name", "is_enabled", "chapter_label", "sentence", "preview_link"]
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
        scenario = self.get_object(request, object_id) if object_id else Scenario()
        extra = {
            "describe_url": reverse("admin:scheduler_scenario_describe"),
            "sentence": explain.sentence(scenario),
            **(extra_context or {}),
        }
        if object_id:
            extra["preview_url"] = reverse("admin:scheduler_scenario_preview", args=[object_id])
        return super().changeform_view(request, object_id, form_url, extra)
