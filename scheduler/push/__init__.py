"""Push delivery backends, chosen by `PUSH_BACKEND` like Django's EMAIL_BACKEND."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from scheduler.push.base import BasePushBackend, Delivery, PushMessage, SendOutcome

__all__ = [
    "BACKEND_ALIASES",
    "BasePushBackend",
    "Delivery",
    "PushMessage",
    "SendOutcome",
    "get_backend",
]

BACKEND_ALIASES = {
    "console": "scheduler.push.console.ConsoleBackend",
    "locmem": "scheduler.push.locmem.LocmemBackend",
    "supabase": "scheduler.push.supabase.SupabaseBackend",
    "fcm": "scheduler.push.fcm.FcmBackend",
}


def backend_path(name: str | None = None) -> str:
    name = name or settings.PUSH_BACKEND
    return BACKEND_ALIASES.get(name, name)


def get_backend(name: str | None = None, **kwargs: object) -> BasePushBackend:
    path = backend_path(name)
    try:
        backend_class = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"PUSH_BACKEND {name or settings.PUSH_BACKEND!r} is not a known backend "
            f"({', '.join(BACKEND_ALIASES)}) or an importable class: {exc}"
        ) from exc
    return backend_class(**kwargs)
