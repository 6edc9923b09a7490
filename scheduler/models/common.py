"""The limits and helpers the models share: field limits, the years an activity may
fall in, and how a time or a device token is shown."""

from __future__ import annotations

from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# Limits that keep a push notification readable on a lock screen.
TITLE_MAX_LENGTH = 65
BODY_MAX_LENGTH = 240
DELAY_DAYS_MAX = 90
WORKING_DAYS_MAX = 60
CLOSED_PERIOD_MAX_DAYS = 366
LOOKBACK_DAYS_MAX = 60
ESCALATE_AFTER_DAYS_MAX = 30
# FCM and APNs tokens are a few hundred ASCII characters. The cap keeps the
# unique index within PostgreSQL's b-tree row limit (about 2,700 bytes), which
# is why a token must also be plain ASCII: one byte a character.
DEVICE_TOKEN_MAX_LENGTH = 2048
# An activity happened in these years (UTC, the end excluded); a CHECK constraint
# holds every writer to them. Outside, a time may have no local time (the last
# hours of 9999) or not be readable at all (a year BC on PostgreSQL).
OCCURRED_AT_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
OCCURRED_AT_END = datetime(2100, 1, 1, tzinfo=UTC)
OCCURRED_AT_OUT_OF_RANGE = _("Give a time in the years 2000 to 2099.")


def local_time(moment: datetime) -> datetime:
    """What people read is local time (TIME_ZONE), not the UTC the database keeps."""
    if timezone.is_naive(moment):
        return moment
    try:
        return timezone.localtime(moment)
    except OverflowError:  # the last hours of the year 9999 have no local time
        return moment


def masked_token(token: str) -> str:
    return f"…{token[-6:]}" if len(token) > 6 else "…"


def require_time_zone(instance: models.Model, field_name: str) -> None:
    """A naive time would be read in the server's zone and shift due times silently."""
    value = getattr(instance, field_name)
    if value is not None and timezone.is_naive(value):
        raise ValidationError({field_name: _("Give a time with a time zone.")})


def occurred_at_in_range(moment: datetime) -> bool:
    """Whether an aware time lies within the years the database accepts."""
    return OCCURRED_AT_EARLIEST <= moment < OCCURRED_AT_END
