"""The "why / why not" page of one activity."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from scheduler import access, explain
from scheduler.models import Activity, Scenario

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin


def verdicts_for(activity: Activity, user: access.User) -> list[explain.Verdict]:
    """Each enabled scenario the user can see, judged for this activity now."""
    scenarios = Scenario.objects.filter(is_enabled=True).select_related("chapter")
    visible = scenarios.filter(access.in_chapters_or_everyone(user, "chapter"))
    return explain.explain(activity, visible)


def why_view(model_admin: ModelAdmin, request: HttpRequest, object_id: str) -> HttpResponse:
    activity = model_admin.get_object(request, object_id)
    if activity is None:
        raise Http404
    if not model_admin.has_view_or_change_permission(request, activity):
        raise PermissionDenied
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "original": activity,
        "title": str(activity),
        "activity": activity,
        "occurred_at": explain.when(activity.occurred_at),
        "verdicts": verdicts_for(activity, request.user),
        "has_view_permission": True,
    }
    return TemplateResponse(request, "admin/scheduler/activity/why.html", context)
