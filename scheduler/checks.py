"""System checks: a selected push backend must have what it needs."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register
from django.utils.module_loading import import_string

from scheduler.push import BACKEND_ALIASES, backend_path

REQUIRED_SETTINGS = {
    "supabase": ["SUPABASE_URL", "SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_FUNCTION_NAME"],
    "fcm": ["FCM_PROJECT_ID", "FCM_CREDENTIALS_FILE", "FCM_API_URL"],
}


@register()
def check_push_backend(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    name = settings.PUSH_BACKEND
    try:
        import_string(backend_path(name))
    except ImportError:
        return [
            Error(
                f"PUSH_BACKEND {name!r} is neither one of {', '.join(BACKEND_ALIASES)} "
                "nor an importable class.",
                id="scheduler.E001",
            )
        ]
    return [
        Error(
            f"PUSH_BACKEND is {name!r} but {setting} is not set.",
            hint=f"Set {setting} in the environment or .env.",
            id="scheduler.E002",
        )
        for setting in REQUIRED_SETTINGS.get(name, [])
        if not getattr(settings, setting, "")
    ]
