"""Chapter scoping for every model admin a coordinator uses."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import ForeignKey, Model, QuerySet
from django.forms import ModelChoiceField
from django.http import Http404, HttpRequest
from django.utils import formats
from django.utils.html import format_html

from scheduler import access
from scheduler.models import Activity, Chapter, PeerMentor, local_time

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise


class ChapterScopedAdmin(admin.ModelAdmin):
    """Rows, choices and object URLs limited to the user's chapters.

    An object outside the user's chapters answers 404 on every object URL
    (change, delete, history and the custom pages), as if it did not exist.
    """

    chapter_path: str = "chapter"
    # Chapter-less rows apply to every chapter: visible to coordinators, read-only.
    includes_chapterless: bool = False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        qs = super().get_queryset(request)
        if self.includes_chapterless:
            return qs.filter(access.in_chapters_or_everyone(request.user, self.chapter_path))
        return qs.filter(access.in_chapters(request.user, self.chapter_path))

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Model:
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404
        return obj

    def viewable_object(self, request: HttpRequest, object_id: str) -> Model:
        """The object of a custom page: 404 outside the user's chapters, 403 without view."""
        obj = self.get_object(request, object_id)
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        return obj

    def formfield_for_foreignkey(
        self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField | None:
        choices = scoped_choices(db_field.related_model, request)
        if choices is not None:
            kwargs["queryset"] = choices
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


def scoped_choices(model: type[Model], request: HttpRequest) -> QuerySet | None:
    user = request.user
    if model is Chapter:
        return access.chapters_for(user)
    if model is PeerMentor:
        return access.mentors_for(user)
    if model is Activity:
        return access.scope(Activity.objects.all(), user, "peer_mentor__chapter")
    return None


def short_time(moment: datetime | None) -> str:
    """A list's date and time: short (28.11.2026 18:33) and local, so columns stay narrow."""
    if moment is None:
        return "-"
    return formats.date_format(local_time(moment), "SHORT_DATETIME_FORMAT")


def time_column(field: str, description: _StrPromise) -> Any:
    """A list column showing `field` as `short_time`, sortable by it."""

    @admin.display(description=description, ordering=field)
    def column(model_admin: admin.ModelAdmin, obj: Model) -> str:
        return short_time(getattr(obj, field))

    return column


def shortened(text: str, limit: int = 70) -> str:
    """Long text in a list cell: its start, the whole on hover."""
    if len(text) <= limit:
        return text
    return format_html('<span title="{}">{}…</span>', text, text[:limit].rstrip(" ,."))


class ReadOnlyMixin:
    """A log: nobody adds, edits or deletes rows through the admin."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
