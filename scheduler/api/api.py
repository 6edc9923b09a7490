"""The NinjaAPI behind /api/v1/: auth, throttle and errors for every route."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from ninja import NinjaAPI

from scheduler.api import activities, devices, errors, prompts
from scheduler.api.caller import MentorBearer
from scheduler.api.throttle import MentorRateThrottle, parse_rate

try:
    parse_rate(settings.API_THROTTLE_RATE)
    parse_rate(settings.API_AUTH_FAILURE_RATE, "API_AUTH_FAILURE_RATE")
except ValueError as exc:
    raise ImproperlyConfigured(str(exc)) from None

api = NinjaAPI(
    title="Peer mentor app API",
    version="1",
    description=(
        "Used by the mentor mobile app. Authenticate with `Authorization: Bearer "
        '<Supabase access token>`; errors are JSON `{"detail": ...}`.'
    ),
    urls_namespace="mentor-api",
    auth=MentorBearer(),
    throttle=[MentorRateThrottle()],
)
errors.install(api)
api.add_router("/devices", devices.router)
api.add_router("/activities", activities.router)
api.add_router("/prompts", prompts.router)
