from __future__ import annotations

import csv
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from scheduler.access import RUN_NOW_PERMISSION
from scheduler.admin.base import ChapterScopedAdmin, ReadOnlyMixin, time_column
from scheduler.coordinators import charts
from scheduler.models import PromptHistory, PromptStatus, local_time

# The export opens in Excel with Norwegian settings: UTF-8 with a byte order mark (else
# Excel reads it as Windows-1252), semicolons (the list separator where the decimal
# comma is used), headers and values in the admin's language, local times.
CSV_BOM = "\ufeff"
CSV_DELIMITER = ";"
CSV_TIME_FORMAT = "%Y-%m-%d %H:%M"


def csv_header() -> list[str]:
    return [
        "id",
        gettext("created"),
        gettext("due"),
        gettext("sent"),
        gettext("status"),
        gettext("attempts"),
        gettext("needs review"),
        gettext("peer mentor"),
        gettext("chapter"),
        gettext("scenario"),
        gettext("rule"),
        gettext("title"),
        gettext("last error"),
        gettext("opened in the app"),
    ]


REVIEW_ADVICE = _(
    "The run stopped while sending this prompt, so the mentor may or may not have received "
    "it. Ask the mentor. If it did not arrive, select it in the prompt log and choose "
    "“Retry selected failed prompts”; if it did, leave it as it is."
)


class OpenedFilter(admin.SimpleListFilter):
    title = _("opened in the app")
    parameter_name = "opened"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, Any]]:
        return [("yes", _("opened")), ("no", _("not opened"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() in ("yes", "no"):
            return queryset.filter(opened_at__isnull=self.value() == "no")
        return queryset


@admin.register(PromptHistory)
class PromptHistoryAdmin(ReadOnlyMixin, ChapterScopedAdmin):
    chapter_path = "peer_mentor__chapter"
    list_display = [
        "created",
        "mentor",
        "scenario",
        "status",
        "attempts",
        "sent",
        "opened",
        "review_flag",
    ]
    list_filter = [
        "status",
        ("scenario", admin.RelatedOnlyFieldListFilter),
        ("peer_mentor__chapter", admin.RelatedOnlyFieldListFilter),
        "needs_review",
        OpenedFilter,
    ]
    list_select_related = ["peer_mentor", "scenario"]
    date_hierarchy = "created_at"
    search_fields = ["peer_mentor__name"]
    actions = ["retry_failed", "export_csv"]
    fieldsets = [
        (None, {"fields": ["mentor", "scenario", "activity_link", "status"]}),
        (
            _("What was sent"),
            {"fields": ["rule_sentence", "title", "body"]},
        ),
        (
            _("Delivery"),
            {
                "fields": [
                    "created_at",
                    "due_at",
                    "dispatched_at",
                    "finished_at",
                    "opened_at",
                    "attempts",
                    "next_attempt_at",
                    "last_error",
                    "run_link",
                ]
            },
        ),
    ]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        if obj is None or not obj.needs_review:
            return self.fieldsets
        # Only a prompt in doubt says so, with what the coordinator can do about it.
        (name, options), *rest = self.fieldsets
        return [(name, {"fields": [*options["fields"], "review_advice"]}), *rest]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return [f for _name, options in self.get_fieldsets(request, obj) for f in options["fields"]]

    created = time_column("created_at", _("created"))
    sent = time_column("dispatched_at", _("sent"))
    opened = time_column("opened_at", _("opened in the app"))

    @admin.display(description=_("peer mentor"), ordering="peer_mentor__name")
    def mentor(self, prompt: PromptHistory) -> str:
        return prompt.peer_mentor.name

    @admin.display(description=_("activity"))
    def activity_link(self, prompt: PromptHistory) -> str:
        url = reverse("admin:scheduler_activity_why", args=[prompt.activity_id])
        return format_html('<a href="{}">{}</a>', url, prompt.activity)

    @admin.display(description=_("dispatch run"))
    def run_link(self, prompt: PromptHistory) -> str:
        return str(prompt.run) if prompt.run_id else "-"

    @admin.display(description=_("needs review"))
    def review_advice(self, prompt: PromptHistory) -> str:
        return str(REVIEW_ADVICE)

    @admin.display(description=_("needs review"), ordering="needs_review")
    def review_flag(self, prompt: PromptHistory) -> str:
        return (
            format_html('<strong class="needs-review">{}</strong>', _("yes"))
            if prompt.needs_review
            else ""
        )

    def has_retry_permission(self, request: HttpRequest) -> bool:
        # Retrying sends again, so it takes the same permission as starting a run.
        return request.user.has_perm(RUN_NOW_PERMISSION)

    @admin.action(description=_("Retry selected failed prompts"), permissions=["retry"])
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[PromptHistory]) -> None:
        selected = queryset.count()
        in_doubt = queryset.filter(status=PromptStatus.FAILED, needs_review=True).count()
        # The same row goes back to "to retry": the unique triple never gets a second row,
        # and the next run takes it over with its usual compare-and-set.
        retried = queryset.filter(status=PromptStatus.FAILED).update(
            status=PromptStatus.RETRY,
            next_attempt_at=timezone.now(),
            needs_review=False,
            finished_at=None,
        )
        self.message_user(
            request,
            ngettext(
                "%(count)d failed prompt will be retried by the next dispatch run.",
                "%(count)d failed prompts will be retried by the next dispatch run.",
                retried,
            )
            % {"count": retried},
            messages.SUCCESS if retried else messages.WARNING,
        )
        if in_doubt:
            self.message_user(
                request,
                ngettext(
                    "%(count)d of them was in doubt: the mentor may already have received it "
                    "and may get it twice.",
                    "%(count)d of them were in doubt: the mentors may already have received "
                    "them and may get them twice.",
                    in_doubt,
                )
                % {"count": in_doubt},
                messages.WARNING,
            )
        if selected > retried:
            self.message_user(
                request,
                ngettext(
                    "%(count)d selected prompt was not failed and was left as it is.",
                    "%(count)d selected prompts were not failed and were left as they are.",
                    selected - retried,
                )
                % {"count": selected - retried},
                messages.INFO,
            )

    @admin.action(description=_("Export selected as CSV"), permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[PromptHistory]) -> HttpResponse:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="prompt-history.csv"'
        response.write(CSV_BOM)
        writer = csv.writer(response, delimiter=CSV_DELIMITER)
        writer.writerow(csv_header())
        rows = queryset.select_related("peer_mentor__chapter", "scenario").order_by("-created_at")
        for prompt in rows.iterator(chunk_size=2000):
            writer.writerow([safe_cell(value) for value in csv_row(prompt)])
        return response

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        daily = charts.prompts_per_day(self.get_queryset(request), timezone.now())
        extra = {"chart": charts.stacked_bars(daily), "chart_total": daily.total}
        return super().changelist_view(request, {**extra, **(extra_context or {})})


def csv_row(prompt: PromptHistory) -> list[object]:
    def stamp(value: Any) -> str:
        return f"{local_time(value):{CSV_TIME_FORMAT}}" if value else ""

    return [
        prompt.pk,
        stamp(prompt.created_at),
        stamp(prompt.due_at),
        stamp(prompt.dispatched_at),
        prompt.get_status_display(),
        prompt.attempts,
        gettext("yes") if prompt.needs_review else gettext("no"),
        prompt.peer_mentor.name,
        prompt.peer_mentor.chapter.name,
        prompt.scenario.name,
        prompt.rule_sentence,
        prompt.title,
        prompt.last_error,
        stamp(prompt.opened_at),
    ]


def safe_cell(value: object) -> object:
    """Spreadsheets run cells starting with = + - @ as formulas; quote those."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
