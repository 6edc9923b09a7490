"""The data contract of docs/design.md: names here are relied on elsewhere.

The models live in one module per part (people, activity, scenario, prompts; the
Escalation in scheduler/escalation/models.py); import them from here.
"""

from __future__ import annotations

# Kept in its own module; imported here so Django registers it with the app's models.
from scheduler.escalation.models import Escalation, EscalationStatus
from scheduler.models.activity import Activity, ActivityKind
from scheduler.models.common import (
    BODY_MAX_LENGTH,
    CLOSED_PERIOD_MAX_DAYS,
    DELAY_DAYS_MAX,
    DEVICE_TOKEN_MAX_LENGTH,
    ESCALATE_AFTER_DAYS_MAX,
    LOOKBACK_DAYS_MAX,
    OCCURRED_AT_EARLIEST,
    OCCURRED_AT_END,
    OCCURRED_AT_OUT_OF_RANGE,
    TITLE_MAX_LENGTH,
    WORKING_DAYS_MAX,
    local_time,
    masked_token,
    occurred_at_in_range,
    require_time_zone,
)
from scheduler.models.people import Chapter, Coordinator, DeviceToken, PeerMentor
from scheduler.models.prompts import (
    FINISHED_STATUSES,
    DispatchRun,
    PromptHistory,
    PromptStatus,
)
from scheduler.models.scenario import ClosedPeriod, DelayUnit, Scenario

__all__ = [
    "BODY_MAX_LENGTH",
    "CLOSED_PERIOD_MAX_DAYS",
    "DELAY_DAYS_MAX",
    "DEVICE_TOKEN_MAX_LENGTH",
    "ESCALATE_AFTER_DAYS_MAX",
    "FINISHED_STATUSES",
    "LOOKBACK_DAYS_MAX",
    "OCCURRED_AT_EARLIEST",
    "OCCURRED_AT_END",
    "OCCURRED_AT_OUT_OF_RANGE",
    "TITLE_MAX_LENGTH",
    "WORKING_DAYS_MAX",
    "Activity",
    "ActivityKind",
    "Chapter",
    "ClosedPeriod",
    "Coordinator",
    "DelayUnit",
    "DeviceToken",
    "DispatchRun",
    "Escalation",
    "EscalationStatus",
    "PeerMentor",
    "PromptHistory",
    "PromptStatus",
    "Scenario",
    "local_time",
    "masked_token",
    "occurred_at_in_range",
    "require_time_zone",
]
