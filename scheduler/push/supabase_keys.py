"""Which Supabase key the backend sends, and how: a secret key as `apikey` only, the legacy
service_role JWT also as a Bearer token."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.core.exceptions import ImproperlyConfigured

SECRET_KEY_PREFIX = "sb_secret_"


@dataclass(frozen=True)
class Credential:
    key: str
    setting: str  # where it came from, for error messages
    bearer: bool  # a legacy JWT also goes in Authorization

    def headers(self) -> dict[str, str]:
        # A secret key is not a JWT: as a Bearer token the platform's JWT check would refuse it.
        if self.bearer:
            return {"Authorization": f"Bearer {self.key}", "apikey": self.key}
        return {"apikey": self.key}


def credential(secret_key: str, service_role_key: str) -> Credential:
    """The key to send: SUPABASE_SECRET_KEY first, else the legacy SUPABASE_SERVICE_ROLE_KEY."""
    # A key pasted with a trailing newline would make every request invalid.
    secret_key, service_role_key = secret_key.strip(), service_role_key.strip()
    if secret_key:
        return Credential(secret_key, "SUPABASE_SECRET_KEY", bearer=False)
    if service_role_key:
        is_jwt = not service_role_key.startswith(SECRET_KEY_PREFIX)
        return Credential(service_role_key, "SUPABASE_SERVICE_ROLE_KEY", bearer=is_jwt)
    raise ImproperlyConfigured(
        "The supabase push backend needs SUPABASE_SECRET_KEY (or the legacy "
        "SUPABASE_SERVICE_ROLE_KEY)."
    )


def check() -> list[CheckMessage]:
    secret_key = settings.SUPABASE_SECRET_KEY.strip()
    service_role_key = settings.SUPABASE_SERVICE_ROLE_KEY.strip()
    if not secret_key and not service_role_key:
        return [
            Error(
                f"PUSH_BACKEND is {settings.PUSH_BACKEND!r} but neither SUPABASE_SECRET_KEY "
                "nor SUPABASE_SERVICE_ROLE_KEY is set.",
                hint="Set SUPABASE_SECRET_KEY to a secret key (sb_secret_…) from the "
                "Supabase dashboard: Project settings > API keys.",
                id="scheduler.E002",
            )
        ]
    if not secret_key and service_role_key.startswith(SECRET_KEY_PREFIX):
        return [
            Warning(
                "SUPABASE_SERVICE_ROLE_KEY holds a secret key (sb_secret_…): it is sent as "
                "apikey only, not as a Bearer token.",
                hint="Move it to SUPABASE_SECRET_KEY and unset SUPABASE_SERVICE_ROLE_KEY.",
                id="scheduler.W001",
            )
        ]
    return []
