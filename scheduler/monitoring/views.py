"""GET /healthz and /metrics for probes and Prometheus: no login, no personal data, never cached."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.db import DatabaseError
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseForbidden,
    JsonResponse,
)
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_safe
from prometheus_client import CONTENT_TYPE_LATEST

from scheduler.client_ip import client_ip
from scheduler.monitoring import health
from scheduler.monitoring.metrics import exposition


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """GET or HEAD (the same status and headers, no body)."""
    response = health_response()
    if request.method == "HEAD":
        response.content = b""
    return response


def health_response() -> JsonResponse:
    try:
        snap = health.snapshot()
    except DatabaseError:
        return JsonResponse({"status": health.DATABASE, "database": "unreachable"}, status=503)
    state = health.status(snap)
    finished = snap.last_finished_at
    body = {
        "status": state,
        "last_run_finished_at": finished.isoformat() if finished else None,
        "database": "ok",
    }
    return JsonResponse(body, status=200 if state == health.OK else 503)


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus /metrics: 404 unless METRICS_ENABLED, 403 to anyone not let in."""
    if not settings.METRICS_ENABLED:
        raise Http404
    if not metrics_allowed(request):
        return HttpResponseForbidden("Forbidden\n", content_type="text/plain")
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)


def metrics_allowed(request: HttpRequest) -> bool:
    if client_ip(request) in settings.METRICS_ALLOWED_IPS:
        return True
    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    return bool(token) and hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
