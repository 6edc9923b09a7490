from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

from scheduler.admin.base import ChapterScopedAdmin
from scheduler.models import Chapter, Coordinator, DeviceToken, PeerMentor, masked_token

RECENT_ACTIVITIES = 20


class MaskedTokenMixin:
    @admin.display(description=_("token"))
    def masked(self, device: DeviceToken) -> str:
        return masked_token(device.token)


class DeviceTokenInline(MaskedTokenMixin, admin.TabularInline):
    model = DeviceToken
    fields = ["masked", "platform", "is_active", "created_at", "deactivation_reason"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PeerMentor)
class PeerMentorAdmin(ChapterScopedAdmin):
    list_display = ["name", "chapter", "is_active", "prompts_paused_until", "active_devices"]
    list_filter = [("chapter", admin.RelatedOnlyFieldListFilter), "is_active"]
    list_select_related = ["chapter"]
    search_fields = ["name"]
    fields = ["name", "chapter", "is_active", "prompts_paused_until"]
    inlines = [DeviceTokenInline]

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
        mentor = self.get_object(request, object_id)
        recent = mentor.activities.order_by("-occurred_at")[:RECENT_ACTIVITIES]
        extra = {"recent_activities": recent, **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra)


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
