"""The "Run dispatch now" button: the same entry point as the schedule."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _

from scheduler.models import DispatchRun
from scheduler.pipeline import DispatchSummary, run_dispatch

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

logger = logging.getLogger(__name__)

RUN_NOW_PERMISSION = "scheduler.run_dispatch_now"


def run_now_view(model_admin: ModelAdmin, request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if not request.user.has_perm(RUN_NOW_PERMISSION):
        raise PermissionDenied
    try:
        summary = run_dispatch(trigger=DispatchRun.Trigger.ADMIN)
    except Exception as exc:
        logger.exception("dispatch run started from the admin failed")
        model_admin.message_user(
            request, _("The run could not finish: %(error)s") % {"error": exc}, messages.ERROR
        )
    else:
        model_admin.message_user(request, summary_text(summary), messages.SUCCESS)
    return HttpResponseRedirect(reverse("admin:scheduler_dispatchrun_changelist"))


def summary_text(summary: DispatchSummary) -> str:
    return _(
        "Dispatch run finished: %(dispatched)d sent, %(failed)d failed, %(skipped)d skipped, "
        "%(retrying)d to retry, %(deferred)d held back."
    ) % {
        "dispatched": summary.dispatched,
        "failed": summary.failed,
        "skipped": summary.skipped,
        "retrying": summary.retrying,
        "deferred": sum(summary.deferred.values()),
    }
