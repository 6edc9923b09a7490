from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.urls import URLPattern, path, reverse
from django.utils import formats
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_q.models import Task
from django_q.tasks import async_task, fetch

from scheduler import access, cluster
from scheduler.access import may_run_now
from scheduler.admin.base import ReadOnlyMixin, time_column
from scheduler.models import DispatchRun, PromptStatus
from scheduler.models.prompts import GROUP_STARTED

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise

logger = logging.getLogger(__name__)

# "Run now" calls the same entry point as the schedule, through this task.
ADMIN_TASK = "scheduler.tasks.admin_dispatch"

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


class TickFilter(admin.SimpleListFilter):
    """The runs of one sharded tick (reached from a run's shard link)."""

    title = _("tick")
    parameter_name = "tick"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        tick = self.value()
        return [(tick, _("this tick's shards"))] if tick else []

    def queryset(self, request: HttpRequest, queryset: QuerySet[DispatchRun]) -> Any:
        tick = self.value()
        if not tick:
            return queryset
        try:
            return queryset.filter(tick=uuid.UUID(tick)).order_by("shard_index")
        except ValueError:
            return queryset.none()


@admin.register(DispatchRun)
class DispatchRunAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "started",
        "trigger",
        "shard",
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
        "started",
        "trigger",
        "shard",
        "chapter_dispatched",
        "chapter_failed",
        "chapter_skipped",
        "chapter_retrying",
        "chapter_in_doubt",
        "duration",
        "had_error",
    ]
    list_filter = ["trigger", TickFilter]
    # Newest first, a sharded tick's runs together in shard order.
    ordering = [GROUP_STARTED.desc(), "tick", "shard_index"]
    date_hierarchy = "started_at"
    fields = [
        "started_at",
        "finished_at",
        "trigger",
        "shard",
        "tick_queued_at",
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
        "shard",
        "tick_queued_at",
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

    started = time_column("started_at", _("started"))

    @admin.display(description=_("shard"), ordering="tick")
    def shard(self, run: DispatchRun) -> str:
        """A sharded tick's run: which shard, linked to the list of the tick's runs."""
        if run.tick is None:
            return "-"
        label = _("%(number)d of %(count)d") % {
            "number": run.shard_index + 1,
            "count": run.shard_count,
        }
        url = reverse("admin:scheduler_dispatchrun_changelist")
        return format_html(
            '<a href="{}?{}={}" title="{}">{}</a>',
            url,
            TickFilter.parameter_name,
            run.tick.hex,
            gettext("Every shard of this tick"),
            label,
        )

    @admin.display(description=_("held back"))
    def deferred_total(self, run: DispatchRun) -> int:
        return sum(run.deferred.values()) if isinstance(run.deferred, dict) else 0

    @admin.display(description=_("duration"))
    def duration(self, run: DispatchRun) -> str:
        if run.finished_at is None:
            return "-"
        seconds = (run.finished_at - run.started_at).total_seconds()
        return _("%(seconds)s s") % {"seconds": formats.number_format(seconds, 1)}

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
                self.admin_site.admin_view(self.run_now_view),
                name="scheduler_dispatchrun_run_now",
            ),
            *super().get_urls(),
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra = {"can_run_now": may_run_now(request.user)}
        return super().changelist_view(request, {**extra, **(extra_context or {})})

    def run_now_view(self, request: HttpRequest) -> HttpResponse:
        """The "Run dispatch now" button: the same entry point as the schedule."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not may_run_now(request.user):
            raise PermissionDenied
        # A run may take minutes: the cluster runs it, not this web request.
        in_background = settings.DISPATCH_RUN_NOW_IN_BACKGROUND
        task_id = async_task(
            ADMIN_TASK,
            chapter_ids=run_now_chapters(request.user),
            sync=not in_background,
            task_name="dispatch from the admin",
        )
        if in_background:
            self.report_queued(request)
        else:
            self.report_finished(request, fetch(task_id))
        return HttpResponseRedirect(reverse("admin:scheduler_dispatchrun_changelist"))

    def report_queued(self, request: HttpRequest) -> None:
        if cluster.is_running():
            self.message_user(
                request,
                gettext("Dispatch run queued: it starts within seconds and appears in this list."),
                messages.SUCCESS,
            )
            return
        self.message_user(request, stopped_text(request.user), messages.WARNING)

    def report_finished(self, request: HttpRequest, task: Task | None) -> None:
        if task is None or not task.success:
            logger.error("dispatch run started from the admin failed: %s", task and task.result)
            self.message_user(
                request,
                gettext("The run could not finish; see the run list and the logs."),
                messages.ERROR,
            )
            return
        self.message_user(request, summary_text(task.result), messages.SUCCESS)


def run_now_chapters(user: access.User) -> list[int] | None:
    """The chapters a run started by `user` covers (None: every chapter), as a task argument."""
    ids = access.chapter_ids(user)
    return None if ids is None else sorted(ids)


def stopped_text(user: access.User) -> str:
    """What "run now" says while no cluster runs: what it means, and whom to tell."""
    text = gettext(
        "Sending is stopped right now: no prompts go out until it runs again. "
        "Your run is queued and starts by itself as soon as sending runs again. "
        "Please tell %(contact)s."
    ) % {"contact": settings.SUPPORT_CONTACT or gettext("whoever runs this service")}
    if access.sees_everything(user):
        text += " " + gettext("(No django-q2 cluster is running: start manage.py qcluster.)")
    return text


def summary_text(summary: dict[str, Any]) -> str:
    return gettext(
        "Dispatch run finished: %(dispatched)d sent, %(failed)d failed, %(skipped)d skipped, "
        "%(retrying)d to retry, %(deferred)d held back."
    ) % {
        "dispatched": summary["dispatched"],
        "failed": summary["failed"],
        "skipped": summary["skipped"],
        "retrying": summary["retrying"],
        "deferred": sum(summary["deferred"].values()),
    }
