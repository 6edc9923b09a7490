"""What the app sends and receives. Every input field is checked here, before any write."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Annotated
from uuid import UUID

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from ninja import Schema
from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, StrictBool, field_validator

from scheduler.models import DEVICE_TOKEN_MAX_LENGTH, Activity, ActivityKind, DeviceToken

# A phone's clock may run a little fast; an activity later than this is a mistake.
MAX_CLOCK_AHEAD = timedelta(minutes=5)
# No scenario reaches back more than 150 days (delay 90 + lookback 60): older is a typo.
MAX_AGE = timedelta(days=365)
# The widest offsets in use (Kiribati +14:00, Baker Island -12:00); PostgreSQL
# refuses anything past ±15:59 with an error rather than a clear answer.
MAX_UTC_OFFSET = timedelta(hours=14)
CONTACT_REF_MAX_LENGTH = Activity._meta.get_field("contact_ref").max_length
NOTES_MAX_LENGTH = 4000
# Control characters (and lone surrogates, which no database stores) are refused;
# notes may still have line breaks and tabs.
NOTES_ALLOWED_CONTROLS = "\n\r\t"


def printable(allowed: str = "") -> AfterValidator:
    def check(value: str) -> str:
        for ch in value:
            if ch not in allowed and unicodedata.category(ch) in ("Cc", "Cs"):
                raise ValueError("must not contain control characters")
        return value

    return AfterValidator(check)


def not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def iso_8601_text(value: object) -> object:
    # Pydantic would also take numbers (Unix time) and bare dates; the app sends text.
    if not isinstance(value, str) or "T" not in value.upper():
        raise ValueError("must be an ISO 8601 date and time with a UTC offset")
    return value


def recent_utc_time(value: datetime) -> datetime:
    """An aware time within the last year (and at most minutes ahead), in UTC."""
    offset = value.utcoffset()
    if offset is None:
        raise ValueError("must include a UTC offset, e.g. 2026-05-01T14:30:00+02:00")
    if abs(offset) > MAX_UTC_OFFSET:
        raise ValueError("must have a UTC offset between -14:00 and +14:00")
    now = timezone.now()
    if value > now + MAX_CLOCK_AHEAD:
        raise ValueError("must not be in the future")
    if value < now - MAX_AGE:
        raise ValueError("must not be more than a year in the past")
    # Checked first: a far-off time with an offset may have no UTC equivalent.
    return value.astimezone(UTC)


def device_token(value: str) -> str:
    try:
        DeviceToken._meta.get_field("token").run_validators(value)
    except DjangoValidationError as exc:
        raise ValueError(" ".join(str(m) for m in exc.messages)) from None
    return value


ContactRef = Annotated[
    str,
    Field(min_length=1, max_length=CONTACT_REF_MAX_LENGTH),
    printable(),
    AfterValidator(not_blank),
]
Notes = Annotated[str, Field(max_length=NOTES_MAX_LENGTH), printable(NOTES_ALLOWED_CONTROLS)]
OccurredAt = Annotated[datetime, BeforeValidator(iso_8601_text), AfterValidator(recent_utc_time)]
Token = Annotated[str, Field(max_length=DEVICE_TOKEN_MAX_LENGTH), AfterValidator(device_token)]


class Strict(Schema):
    # An unknown field is a client bug worth hearing about, not something to drop.
    model_config = ConfigDict(extra="forbid")


class DeviceIn(Strict):
    token: Token
    platform: DeviceToken.Platform


class DeviceOut(Schema):
    platform: str
    is_active: bool


class UnregisterIn(Strict):
    token: Token


class ActivityIn(Strict):
    client_id: UUID
    contact_ref: ContactRef
    kind: ActivityKind
    occurred_at: OccurredAt
    wellbeing_concern: StrictBool
    notes: Notes = ""


class ActivityPatch(Strict):
    contact_ref: ContactRef | None = None
    kind: ActivityKind | None = None
    occurred_at: OccurredAt | None = None
    wellbeing_concern: StrictBool | None = None
    notes: Notes | None = None

    @field_validator("*", mode="before")
    @classmethod
    def not_null(cls, value: object) -> object:
        # Leave a field out to keep it; null would erase a required value.
        if value is None:
            raise ValueError("must not be null")
        return value


class ActivityOut(Schema):
    id: int
    client_id: UUID
    contact_ref: str
    kind: str
    occurred_at: datetime
    wellbeing_concern: bool
    notes: str


class PromptOut(Schema):
    id: int
    scenario_id: int
    title: str
    body: str
    status: str
    due_at: datetime | None
    dispatched_at: datetime | None
    opened_at: datetime | None


class PromptPage(Schema):
    items: list[PromptOut]
    next_cursor: str | None


class Detail(Schema):
    detail: str
