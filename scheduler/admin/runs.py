from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, path
from django.utils.translation import gettext_lazy as _

from scheduler.admin.base import ReadOnlyMixin
from scheduler.models import DispatchRun
from scheduler.views.run_pages import RUN_NOW_PERMISSION, run_now_view


@admin.register(DispatchRun)
class DispatchRunAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "started_at",
        "trigger",
        "dispatched",
        "failed",
        "skipped",
        "retrying",
        "in_doubt",
        "deferred_total",
        "duration",
        "error_summary",
    ]
    list_filter = ["trigger"]
    date_hierarchy = "started_at"
    fields = [
        "started_at",
        "finished_at",
        "trigger",
        "dispatched",
        "failed",
        "skipped",
        "retrying",
        "in_doubt",
        "deferred",
        "error",
    ]
    readonly_fields = fields

    @admin.display(description=_("held back"))
    def deferred_total(self, run: DispatchRun) -> int:
        return sum(run.deferred.values()) if isinstance(run.deferred, dict) else 0

    @admin.display(description=_("duration"))
    def duration(self, run: DispatchRun) -> str:
        if run.finished_at is None:
            return "-"
        seconds = (run.finished_at - run.started_at).total_seconds()
        return _("%(seconds).1f s") % {"seconds": seconds}

    @admin.display(description=_("error"))
    def error_summary(self, run: DispatchRun) -> str:
        return run.error[:80]

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Any:
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404
        return obj

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "run-now/",
                self.admin_site.admin_view(lambda request: run_now_view(self, request)),
                name="scheduler_dispatchrun_run_now",
            ),
            *super().get_urls(),
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra = {"can_run_now": request.user.has_perm(RUN_NOW_PERMISSION)}
        return super().changelist_view(request, {**extra, **(extra_context or {})})
