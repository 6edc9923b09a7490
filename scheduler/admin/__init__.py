"""What coordinators see: one module per part of the admin."""

from __future__ import annotations

from scheduler.admin import activities, history, mentors, runs, scenarios  # noqa: F401
