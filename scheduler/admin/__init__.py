"""What coordinators see: one module per part of the admin."""

from __future__ import annotations

from scheduler.admin import (  # noqa: F401
    activities,
    closed_periods,
    escalations,
    history,
    mentors,
    runs,
    scenarios,
)
