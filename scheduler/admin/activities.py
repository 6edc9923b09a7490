from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from scheduler.admin.base import ChapterScopedAdmin
from scheduler.models import Activity
from scheduler.views.activity_pages import verdicts_for, why_view


@admin.register(Activity)
class ActivityAdmin(ChapterScopedAdmin):
    chapter_path = "peer_mentor__chapter"
    list_display = ["occurred_at", "kind", "peer_mentor", "wellbeing_concern", "why_link"]
    list_filter = [
        "kind",
        "wellbeing_concern",
        ("peer_mentor__chapter", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["peer_mentor"]
    date_hierarchy = "occurred_at"
    search_fields = ["peer_mentor__name", "contact_ref"]
    fields = ["peer_mentor", "contact_ref", "kind", "occurred_at", "wellbeing_concern", "notes"]

    @admin.display(description=_("why / why not"))
    def why_link(self, activity: Activity) -> str:
        url = reverse("admin:scheduler_activity_why", args=[activity.pk])
        return format_html('<a href="{}">{}</a>', url, _("Why / why not"))

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/why/",
                wrap(lambda request, object_id: why_view(self, request, object_id)),
                name="scheduler_activity_why",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        activity = self.get_object(request, object_id)
        extra = {"verdicts": verdicts_for(activity, request.user), **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra)
