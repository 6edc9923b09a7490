"""Concerns without follow-up: a coordinator's chapters' escalations, marked handled here."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from scheduler import access
from scheduler.admin.base import ChapterScopedAdmin, short_time
from scheduler.escalation.mail import outcome
from scheduler.models import Escalation, EscalationStatus

CHAPTER_PATH = "prompt__peer_mentor__chapter"


class StatusFilter(admin.SimpleListFilter):
    """Open ones by default: what still needs a coordinator."""

    title = _("status")
    parameter_name = "status"
    ALL = "all"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, Any]]:
        return [*EscalationStatus.choices, (self.ALL, _("all"))]

    def choices(self, changelist: Any) -> Any:
        value = self.value() or EscalationStatus.OPEN
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == str(lookup),
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value() or EscalationStatus.OPEN
        if value == self.ALL:
            return queryset
        return queryset.filter(status=value)


class EscalationForm(forms.ModelForm):
    mark_handled = forms.BooleanField(
        label=_("mark handled"),
        required=False,
        initial=True,
        help_text=_("You have checked in with the mentor; the note says what was done."),
    )

    class Meta:
        model = Escalation
        fields = ["note"]
        widgets = {"note": forms.Textarea(attrs={"rows": 3})}
        help_texts = {"note": _("For coordinators only; never sent anywhere.")}


def open_count(user: access.User) -> int:
    """The user's chapters' open escalations (the admin index shows it)."""
    qs = Escalation.objects.filter(status=EscalationStatus.OPEN)
    return qs.filter(access.in_chapters(user, CHAPTER_PATH)).count()


@admin.register(Escalation)
class EscalationAdmin(ChapterScopedAdmin):
    chapter_path = CHAPTER_PATH
    form = EscalationForm
    list_display = [
        "created",
        "mentor",
        "contact_ref",
        "scenario",
        "activity_date",
        "prompt_outcome",
        "status",
        "why_link",
    ]
    list_display_links = ["created"]
    list_filter = [
        StatusFilter,
        ("prompt__scenario", admin.RelatedOnlyFieldListFilter),
        ("prompt__peer_mentor__chapter", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["prompt__peer_mentor", "prompt__scenario", "prompt__activity"]
    ordering = ["-created_at", "-pk"]
    actions = ["mark_handled"]
    readonly_fields = [
        "mentor",
        "contact_ref",
        "scenario",
        "activity_date",
        "prompt_outcome",
        "why_link",
        "created",
        "notified",
        "status",
        "handled_by",
        "handled",
    ]
    fields = [*readonly_fields, "mark_handled", "note"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("created"), ordering="created_at")
    def created(self, escalation: Escalation) -> str:
        return short_time(escalation.created_at)

    @admin.display(description=_("coordinators told"))
    def notified(self, escalation: Escalation) -> str:
        return short_time(escalation.notified_at)

    @admin.display(description=_("handled"))
    def handled(self, escalation: Escalation) -> str:
        return short_time(escalation.handled_at)

    @admin.display(description=_("peer mentor"), ordering="prompt__peer_mentor__name")
    def mentor(self, escalation: Escalation) -> str:
        return escalation.prompt.peer_mentor.name

    @admin.display(description=_("contact reference"))
    def contact_ref(self, escalation: Escalation) -> str:
        return escalation.prompt.activity.contact_ref

    @admin.display(description=_("scenario"), ordering="prompt__scenario__name")
    def scenario(self, escalation: Escalation) -> str:
        return escalation.prompt.scenario.name

    @admin.display(description=_("activity"), ordering="prompt__activity__occurred_at")
    def activity_date(self, escalation: Escalation) -> str:
        return short_time(escalation.prompt.activity.occurred_at)

    @admin.display(description=_("what happened to the prompt"))
    def prompt_outcome(self, escalation: Escalation) -> str:
        prompt = escalation.prompt
        return outcome(prompt.status, prompt.needs_review)

    @admin.display(description=_("why / why not"))
    def why_link(self, escalation: Escalation) -> str:
        url = reverse("admin:scheduler_activity_why", args=[escalation.prompt.activity_id])
        return format_html('<a href="{}">{}</a>', url, _("Why / why not"))

    def save_model(self, request: HttpRequest, obj: Escalation, form: Any, change: bool) -> None:
        if form.cleaned_data.get("mark_handled") and obj.status != EscalationStatus.HANDLED:
            obj.status = EscalationStatus.HANDLED
            obj.handled_by = request.user  # type: ignore[assignment]
            obj.handled_at = timezone.now()
        super().save_model(request, obj, form, change)

    @admin.action(description=_("Mark selected concerns handled"), permissions=["change"])
    def mark_handled(self, request: HttpRequest, queryset: QuerySet[Escalation]) -> None:
        handled = queryset.exclude(status=EscalationStatus.HANDLED).update(
            status=EscalationStatus.HANDLED, handled_by=request.user, handled_at=timezone.now()
        )
        self.message_user(
            request,
            ngettext(
                "%(count)d concern marked handled.", "%(count)d concerns marked handled.", handled
            )
            % {"count": handled},
            messages.SUCCESS,
        )
