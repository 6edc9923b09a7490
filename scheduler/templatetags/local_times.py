"""Local times on admin pages that survive a time with no local equivalent.

The last hours of the year 9999 (UTC) are already the year 10000 in Oslo, which
Python cannot hold: the admin's own formatting raises OverflowError for them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.contrib.admin.templatetags.admin_list import date_hierarchy
from django.contrib.admin.views.main import ChangeList

from scheduler.coordinators.explain import when

register = template.Library()


@register.filter
def local_when(moment: datetime | None) -> str:
    """The time in the local zone, or in UTC when it has no local time."""
    return "" if moment is None else when(moment)


@register.inclusion_tag("admin/date_hierarchy.html")
def date_hierarchy_in_calendar(changelist: ChangeList) -> dict[str, Any]:
    """The admin's date drill-down, left out when a row's time has no local date."""
    try:
        return date_hierarchy(changelist) or {"show": False}
    except OverflowError:
        return {"show": False}
