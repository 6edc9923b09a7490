"""The count of open concerns without follow-up, for the admin index."""

from __future__ import annotations

from typing import Any

from django import template

from scheduler.admin.escalations import open_count

register = template.Library()


@register.simple_tag(takes_context=True)
def open_escalations(context: dict[str, Any]) -> int | None:
    """The user's chapters' open escalations; None for a user who may not see them."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.has_perm("scheduler.view_escalation"):
        return None
    return open_count(user)
