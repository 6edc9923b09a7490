"""System checks: a selected push backend must have what it needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from scheduler.push import BACKEND_ALIASES, backend_path
from scheduler.push.http import service_url

REQUIRED_SETTINGS = {
    BACKEND_ALIASES["supabase"]: [
        "SUPABASE_URL",
        "SUPABASE_SERVICE_ROLE_KEY",
        "SUPABASE_FUNCTION_NAME",
    ],
    BACKEND_ALIASES["fcm"]: ["FCM_PROJECT_ID", "FCM_CREDENTIALS_FILE", "FCM_API_URL"],
}


@register()
def check_push_backend(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    name = settings.PUSH_BACKEND
    path = backend_path(name)
    try:
        import_string(path)
    except ImportError:
        return [
            Error(
                f"PUSH_BACKEND {name!r} is neither one of {', '.join(BACKEND_ALIASES)} "
                "nor an importable class.",
                id="scheduler.E001",
            )
        ]
    missing = [
        Error(
            f"PUSH_BACKEND is {name!r} but {setting} is not set.",
            hint=f"Set {setting} in the environment or .env.",
            id="scheduler.E002",
        )
        for setting in REQUIRED_SETTINGS.get(path, [])
        if not str(getattr(settings, setting, "")).strip()
    ]
    if missing:
        return missing
    if path == BACKEND_ALIASES["fcm"]:
        return check_service_url("FCM_API_URL") or check_fcm_credentials(
            settings.FCM_CREDENTIALS_FILE
        )
    if path == BACKEND_ALIASES["supabase"]:
        return check_service_url("SUPABASE_URL")
    return []


def check_fcm_credentials(filename: str) -> list[CheckMessage]:
    from scheduler.push.fcm import load_credentials

    if not Path(filename).is_file():
        return [
            Error(
                f"FCM_CREDENTIALS_FILE {filename!r} does not exist.",
                hint="Download a service-account key (JSON) from the Firebase console: "
                "Project settings > Service accounts > Generate new private key.",
                id="scheduler.E003",
            )
        ]
    try:
        load_credentials(filename)
    except ImproperlyConfigured as exc:
        return [
            Error(
                str(exc),
                hint="FCM needs a service-account key file, not a google-services.json "
                "or a user's credentials.",
                id="scheduler.E004",
            )
        ]
    return []


URL_HINTS = {
    "SUPABASE_URL": "It looks like https://<project-ref>.supabase.co",
    "FCM_API_URL": "Leave it unset for https://fcm.googleapis.com",
}


def check_service_url(setting: str) -> list[CheckMessage]:
    try:
        service_url(setting, getattr(settings, setting))
    except ImproperlyConfigured as exc:
        return [Error(str(exc), hint=URL_HINTS[setting], id="scheduler.E005")]
    return []
