from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core.management import call_command
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class SchedulerConfig(AppConfig):
    name = "scheduler"
    verbose_name = _("Follow-up prompts")

    def ready(self) -> None:
        from scheduler import checks  # noqa: F401  (registers system checks)
        from scheduler.dispatch.schedule import sync_dispatch_schedule

        post_migrate.connect(sync_dispatch_schedule, sender=self)
        post_migrate.connect(create_cache_tables, sender=self)


def create_cache_tables(using: str = "default", **kwargs: Any) -> None:
    """The table of a database cache (API_THROTTLE_CACHE_URL=dbcache://...), once:
    without it every API request would fail."""
    call_command("createcachetable", database=using, verbosity=0)
