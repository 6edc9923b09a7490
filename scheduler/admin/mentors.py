from __future__ import annotations

import uuid
from typing import Any, cast

from django import forms
from django.contrib import admin
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

from scheduler.admin.base import ChapterScopedAdmin
from scheduler.models import Chapter, Coordinator, DeviceToken, PeerMentor, masked_token

RECENT_ACTIVITIES = 20
AUTH_USER_ID_HELP = _(
    "The mentor's user id in Supabase Auth, which the mobile app signs in with. Find it in "
    "the Supabase dashboard under Authentication → Users: the mentor's User UID, such as "
    "123e4567-e89b-12d3-a456-426614174000. Leave empty to give the mentor no app access."
)
AUTH_USER_ID_TAKEN = _("This app user id is already linked to another peer mentor.")


def masked_user_id(user_id: uuid.UUID | None) -> str:
    """Enough to tell two linked mentors apart, too little to sign in as one."""
    return f"••••{user_id.hex[-4:]}" if user_id else "—"


class AppLinkedFilter(admin.SimpleListFilter):
    title = _("app link")
    parameter_name = "app_linked"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, Any]]:
        return [("yes", _("linked to the app")), ("no", _("not linked"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() in ("yes", "no"):
            return queryset.filter(auth_user_id__isnull=self.value() == "no")
        return queryset


class MaskedTokenMixin:
    @admin.display(description=_("token"))
    def masked(self, device: DeviceToken) -> str:
        return masked_token(device.token)


class DeviceTokenInline(MaskedTokenMixin, admin.TabularInline):
    model = DeviceToken
    fields = ["masked", "platform", "is_active", "created_at", "deactivation_reason"]
    readonly_fields = ["masked", "platform", "is_active", "created_at", "deactivation_reason"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PeerMentor)
class PeerMentorAdmin(ChapterScopedAdmin):
    list_display = [
        "name",
        "chapter",
        "is_active",
        "prompts_paused_until",
        "active_devices",
        "app_linked",
    ]
    list_filter = [("chapter", admin.RelatedOnlyFieldListFilter), "is_active", AppLinkedFilter]
    list_select_related = ["chapter"]
    search_fields = ["name"]
    fields = ["name", "chapter", "is_active", "prompts_paused_until", "auth_user_id"]
    inlines = [DeviceTokenInline]

    def get_form(
        self,
        request: HttpRequest,
        obj: PeerMentor | None = None,
        change: bool = False,
        **kwargs: Any,
    ) -> type[forms.ModelForm]:
        kwargs.setdefault("help_texts", {"auth_user_id": AUTH_USER_ID_HELP})
        kwargs.setdefault("error_messages", {"auth_user_id": {"unique": AUTH_USER_ID_TAKEN}})
        return super().get_form(request, obj, change, **kwargs)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[PeerMentor], search_term: str
    ) -> tuple[QuerySet[PeerMentor], bool]:
        user_id = parse_uuid(search_term)
        if user_id is not None:
            # Whole ids only: a partial match would let anyone guess an id a digit at a time.
            return queryset.filter(auth_user_id=user_id), False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description=_("app linked"))
    def app_linked(self, mentor: PeerMentor) -> str:
        return masked_user_id(mentor.auth_user_id)

    def get_queryset(self, request: HttpRequest) -> QuerySet[PeerMentor]:
        active = Count("device_tokens", filter=Q(device_tokens__is_active=True))
        return super().get_queryset(request).annotate(active_device_count=active)

    @admin.display(description=_("active devices"), ordering="active_device_count")
    def active_devices(self, mentor: PeerMentor) -> int:
        return mentor.active_device_count  # type: ignore[attr-defined]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        mentor = cast("PeerMentor", self.get_object(request, object_id))
        recent = mentor.activities.order_by("-occurred_at")[:RECENT_ACTIVITIES]
        extra = {"recent_activities": recent, **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra)


def parse_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text.strip())
    except ValueError:
        return None


@admin.register(DeviceToken)
class DeviceTokenAdmin(MaskedTokenMixin, ChapterScopedAdmin):
    chapter_path = "peer_mentor__chapter"
    list_display = ["masked", "peer_mentor", "platform", "is_active", "created_at"]
    list_filter = [
        "platform",
        "is_active",
        ("peer_mentor__chapter", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["peer_mentor"]
    search_fields = ["peer_mentor__name"]
    fields = [
        "peer_mentor",
        "masked",
        "platform",
        "is_active",
        "created_at",
        "deactivated_at",
        "deactivation_reason",
    ]
    readonly_fields = ["peer_mentor", "masked", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Tokens come from the mentors' phones; typing one in would only show it in full.
        return False


@admin.register(Chapter)
class ChapterAdmin(ChapterScopedAdmin):
    chapter_path = "pk"
    list_display = ["name"]
    search_fields = ["name"]


@admin.register(Coordinator)
class CoordinatorAdmin(admin.ModelAdmin):
    list_display = ["user", "chapter_names"]
    filter_horizontal = ["chapters"]
    autocomplete_fields = ["user"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Coordinator]:
        return super().get_queryset(request).select_related("user").prefetch_related("chapters")

    @admin.display(description=_("chapters"))
    def chapter_names(self, coordinator: Coordinator) -> str:
        return ", ".join(c.name for c in coordinator.chapters.all())
