"""Closed periods: days the organisation is closed, which working-day delays skip.

A coordinator adds and edits them for their own chapters; periods for every
chapter (blank chapter) are theirs to read, staff who see everything edit them.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from scheduler import access
from scheduler.admin.base import ChapterScopedAdmin
from scheduler.models import ClosedPeriod


class ClosedPeriodForm(forms.ModelForm):
    class Meta:
        model = ClosedPeriod
        fields = ["name", "first_day", "last_day", "chapter"]

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        chapter = self.fields.get("chapter")
        limited = user is not None and not access.sees_everything(user)
        if isinstance(chapter, forms.ModelChoiceField) and limited:
            chapter.queryset = access.chapters_for(user)
            chapter.required = True


@admin.register(ClosedPeriod)
class ClosedPeriodAdmin(ChapterScopedAdmin):
    form = ClosedPeriodForm
    includes_chapterless = True
    list_display = ["name", "first_day", "last_day", "chapter_label"]
    list_filter = ["chapter"]
    search_fields = ["name"]
    date_hierarchy = "first_day"

    @admin.display(description=_("chapter"), ordering="chapter__name")
    def chapter_label(self, period: ClosedPeriod) -> str:
        return str(period.chapter) if period.chapter_id else str(_("every chapter"))

    def get_form(
        self, request: HttpRequest, obj: ClosedPeriod | None = None, change: bool = False, **kw: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kw)
        user = request.user

        class ScopedForm(form):  # type: ignore[valid-type,misc]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, user=user, **kwargs)

        return ScopedForm

    def has_change_permission(self, request: HttpRequest, obj: ClosedPeriod | None = None) -> bool:
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or access.may_edit_chapter(request.user, obj.chapter_id))

    def has_delete_permission(self, request: HttpRequest, obj: ClosedPeriod | None = None) -> bool:
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or access.may_edit_chapter(request.user, obj.chapter_id))
