from __future__ import annotations

from typing import Any, cast

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.db.models import QuerySet, RestrictedError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from scheduler import access
from scheduler.admin.base import ChapterScopedAdmin, time_column
from scheduler.coordinators import explain
from scheduler.models import OCCURRED_AT_EARLIEST, OCCURRED_AT_END, Activity, Scenario

CANNOT_DELETE = _(
    "An activity with prompt history cannot be deleted. Withdraw it instead with the "
    "list's action “Withdraw selected activities”: it then triggers and cancels nothing, "
    "and its prompt history is kept."
)


class WithdrawnFilter(admin.SimpleListFilter):
    title = _("withdrawn")
    parameter_name = "withdrawn"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, Any]]:
        return [("yes", _("withdrawn")), ("no", _("active"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() in ("yes", "no"):
            return queryset.filter(withdrawn_at__isnull=self.value() == "no")
        return queryset


class SourceFilter(admin.SimpleListFilter):
    title = _("source")
    parameter_name = "source"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, Any]]:
        return [("app", _("the app")), ("admin", _("the admin"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() in ("app", "admin"):
            return queryset.filter(client_id__isnull=self.value() == "admin")
        return queryset


@admin.register(Activity)
class ActivityAdmin(ChapterScopedAdmin):
    chapter_path = "peer_mentor__chapter"
    list_display = [
        "occurred",
        "kind",
        "peer_mentor",
        "wellbeing_concern",
        "logged_in_app",
        "withdrawn",
        "why_link",
    ]
    list_filter = [
        "kind",
        "wellbeing_concern",
        WithdrawnFilter,
        SourceFilter,
        ("peer_mentor__chapter", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["peer_mentor"]
    date_hierarchy = "occurred_at"
    search_fields = ["peer_mentor__name", "contact_ref"]
    fields = [
        "peer_mentor",
        "contact_ref",
        "kind",
        "occurred_at",
        "wellbeing_concern",
        "notes",
        "client_id",
        "withdrawn_at",
    ]
    # The app owns client_id (its retries find the row by it); withdrawing is the action's job.
    readonly_fields = ["client_id", "withdrawn_at"]
    actions = ["withdraw"]

    occurred = time_column("occurred_at", _("occurred at"))

    @admin.display(description=_("logged in the app"), boolean=True)
    def logged_in_app(self, activity: Activity) -> bool:
        return activity.from_app

    @admin.display(description=_("withdrawn"), boolean=True, ordering="withdrawn_at")
    def withdrawn(self, activity: Activity) -> bool:
        return activity.withdrawn_at is not None

    @admin.display(description=_("why / why not"))
    def why_link(self, activity: Activity) -> str:
        url = reverse("admin:scheduler_activity_why", args=[activity.pk])
        return format_html('<a href="{}">{}</a>', url, _("Why / why not"))

    @admin.action(description=_("Withdraw selected activities"), permissions=["change"])
    def withdraw(self, request: HttpRequest, queryset: QuerySet[Activity]) -> None:
        selected = queryset.count()
        withdrawn = queryset.filter(withdrawn_at__isnull=True).update(withdrawn_at=timezone.now())
        self.message_user(
            request,
            ngettext(
                "%(count)d activity was withdrawn: it no longer triggers or cancels prompts, "
                "and its prompt history is kept.",
                "%(count)d activities were withdrawn: they no longer trigger or cancel prompts, "
                "and their prompt history is kept.",
                withdrawn,
            )
            % {"count": withdrawn},
            messages.SUCCESS if withdrawn else messages.WARNING,
        )
        if selected > withdrawn:
            self.message_user(
                request,
                ngettext(
                    "%(count)d selected activity was already withdrawn.",
                    "%(count)d selected activities were already withdrawn.",
                    selected - withdrawn,
                )
                % {"count": selected - withdrawn},
                messages.INFO,
            )

    def has_delete_permission(self, request: HttpRequest, obj: Activity | None = None) -> bool:
        # The delivery log must stay whole: an activity with prompts is withdrawn instead.
        if obj is not None and has_prompts(obj):
            return False
        return super().has_delete_permission(request, obj)

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        activity = cast("Activity", self.get_object(request, object_id))
        if has_prompts(activity) and super().has_delete_permission(request, activity):
            return self.refuse_delete(request, activity)
        try:
            return super().delete_view(request, object_id, extra_context)
        except RestrictedError:
            # A run claimed a prompt for it between the confirmation page and the POST.
            return self.refuse_delete(request, activity)

    def get_changelist_instance(self, request: HttpRequest) -> ChangeList:
        # Django's drill-down into the year 9999 computes the year 10000 and fails;
        # no activity lies outside the constraint's years anyway.
        year = request.GET.get(f"{self.date_hierarchy}__year")
        if year is not None and not drill_down_year_in_range(year):
            raise IncorrectLookupParameters(year)
        return super().get_changelist_instance(request)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        try:
            return super().changelist_view(request, extra_context)
        except RestrictedError:
            # "Delete selected" confirmed just as a run claimed a prompt for one of them.
            self.message_user(request, CANNOT_DELETE, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def refuse_delete(self, request: HttpRequest, activity: Activity) -> HttpResponse:
        self.message_user(request, CANNOT_DELETE, messages.WARNING)
        return HttpResponseRedirect(reverse("admin:scheduler_activity_change", args=[activity.pk]))

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<path:object_id>/why/",
                self.admin_site.admin_view(self.why_view),
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
        activity = cast("Activity", self.get_object(request, object_id))
        extra = {"verdicts": verdicts_for(activity, request.user), **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra)

    def why_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The "why / why not" page of one activity."""
        activity = cast("Activity", self.viewable_object(request, object_id))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": activity,
            "title": str(activity),
            "activity": activity,
            "summary": explain.activity_summary(activity),
            "verdicts": verdicts_for(activity, request.user),
            "has_view_permission": True,
        }
        return TemplateResponse(request, "admin/scheduler/activity/why.html", context)


def drill_down_year_in_range(year: str) -> bool:
    # A year wider on each side: the bounds are UTC, the drill-down local years.
    first, last = OCCURRED_AT_EARLIEST.year - 1, OCCURRED_AT_END.year
    return year.isdigit() and first <= int(year) <= last


def has_prompts(activity: Activity) -> bool:
    return activity.prompts.exists()


def verdicts_for(activity: Activity, user: access.User) -> list[explain.Verdict]:
    """Each enabled scenario the user can see, judged for this activity now."""
    scenarios = Scenario.objects.filter(is_enabled=True).select_related("chapter")
    visible = scenarios.filter(access.in_chapters_or_everyone(user, "chapter"))
    return explain.explain(activity, visible)
