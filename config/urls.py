from __future__ import annotations

from django.contrib import admin
from django.urls import path, re_path
from django.views.generic import RedirectView

from scheduler.api.api import api
from scheduler.api.errors import unknown_route
from scheduler.monitoring.views import healthz, metrics
from scheduler.views.favicon import favicon

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("favicon.ico", favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    re_path(r"^api/", unknown_route),
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
]
