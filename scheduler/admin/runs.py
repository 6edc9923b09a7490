from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, path
from django.utils.translation import gettext_lazy as _

from scheduler import access
from scheduler.admin.base import ReadOnlyMixin
from scheduler.models import DispatchRun, PromptStatus
from scheduler.views.run_pages import may_run_now, run_now_view

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise

# What a coordinator sees of a run: counted from the run's prompts to their chapters' mentors.
CHAPTER_COUNTS = {
    "chapter_dispatched": Q(prompts__status=PromptStatus.DISPATCHED),
    "chapter_failed": Q(prompts__status=PromptStatus.FAILED),
    "chapter_skipped": Q(prompts__status=PromptStatus.SKIPPED),
    "chapter_retrying": Q(prompts__status=PromptStatus.RETRY),
    "chapter_in_doubt": Q(prompts__needs_review=True),
}


def chapter_count(name: str, description: _StrPromise) -> Any:
    @admin.display(description=description, ordering=name)
    def column(model_admin: DispatchRunAdmin, run: DispatchRun) -> int:
        return getattr(run, name)

    return column


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
    # The counts and errors of a whole run cover every chapter: a coordinator gets
    # the counts of their own chapters' prompts instead, and no error text.
    chapter_list_display = [
        "started_at",
        "trigger",
        "chapter_dispatched",
        "chapter_failed",
        "chapter_skipped",
        "chapter_retrying",
        "chapter_in_doubt",
        "duration",
        "had_error",
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
    chapter_fields = [
        "started_at",
        "finished_at",
        "trigger",
        *CHAPTER_COUNTS,
        "had_error",
    ]

    chapter_dispatched = chapter_count("chapter_dispatched", _("dispatched"))
    chapter_failed = chapter_count("chapter_failed", _("failed"))
    chapter_skipped = chapter_count("chapter_skipped", _("skipped"))
    chapter_retrying = chapter_count("chapter_retrying", _("to retry"))
    chapter_in_doubt = chapter_count("chapter_in_doubt", _("in doubt"))

    def get_queryset(self, request: HttpRequest) -> QuerySet[DispatchRun]:
        qs = super().get_queryset(request)
        ids = access.chapter_ids(request.user)
        if ids is None:
            return qs
        if not ids:
            return qs.none()
        mine = Q(prompts__peer_mentor__chapter_id__in=ids)
        return qs.annotate(
            **{name: Count("prompts", filter=mine & only) for name, only in CHAPTER_COUNTS.items()}
        )

    def get_list_display(self, request: HttpRequest) -> list[Any]:
        if access.sees_everything(request.user):
            return self.list_display
        return self.chapter_list_display

    def get_fields(self, request: HttpRequest, obj: DispatchRun | None = None) -> list[Any]:
        if access.sees_everything(request.user):
            return self.fields
        return self.chapter_fields

    def get_readonly_fields(
        self, request: HttpRequest, obj: DispatchRun | None = None
    ) -> list[Any]:
        return self.get_fields(request, obj)

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

    @admin.display(description=_("error"), boolean=True)
    def had_error(self, run: DispatchRun) -> bool:
        return bool(run.error)

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
        extra = {"can_run_now": may_run_now(request.user)}
        return super().changelist_view(request, {**extra, **(extra_context or {})})
