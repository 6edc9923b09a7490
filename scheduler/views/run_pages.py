"""The "Run dispatch now" button: the same entry point as the schedule."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django_q.models import Task
from django_q.tasks import async_task, fetch

from scheduler import access
from scheduler.access import User

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

logger = logging.getLogger(__name__)

RUN_NOW_PERMISSION = "scheduler.run_dispatch_now"
ADMIN_TASK = "scheduler.tasks.admin_dispatch"


def may_run_now(user: User) -> bool:
    """The permission, and at least one chapter to run for."""
    return user.has_perm(RUN_NOW_PERMISSION) and access.chapter_ids(user) != frozenset()


def run_now_chapters(user: User) -> list[int] | None:
    """The chapters a run started by `user` covers (None: every chapter), as a task argument."""
    ids = access.chapter_ids(user)
    return None if ids is None else sorted(ids)


def run_now_view(model_admin: ModelAdmin, request: HttpRequest) -> HttpResponse:
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
        model_admin.message_user(
            request,
            _("Dispatch run queued: it starts within seconds and appears in this list."),
            messages.SUCCESS,
        )
    else:
        report_finished(model_admin, request, fetch(task_id))
    return HttpResponseRedirect(reverse("admin:scheduler_dispatchrun_changelist"))


def report_finished(model_admin: ModelAdmin, request: HttpRequest, task: Task | None) -> None:
    if task is None or not task.success:
        logger.error("dispatch run started from the admin failed: %s", task and task.result)
        model_admin.message_user(
            request, _("The run could not finish; see the run list and the logs."), messages.ERROR
        )
        return
    model_admin.message_user(request, summary_text(task.result), messages.SUCCESS)


def summary_text(summary: dict[str, Any]) -> str:
    return _(
        "Dispatch run finished: %(dispatched)d sent, %(failed)d failed, %(skipped)d skipped, "
        "%(retrying)d to retry, %(deferred)d held back."
    ) % {
        "dispatched": summary["dispatched"],
        "failed": summary["failed"],
        "skipped": summary["skipped"],
        "retrying": summary["retrying"],
        "deferred": sum(summary["deferred"].values()),
    }
