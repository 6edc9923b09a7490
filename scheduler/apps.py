from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class SchedulerConfig(AppConfig):
    name = "scheduler"
    verbose_name = _("Follow-up prompts")

    def ready(self) -> None:
        from scheduler import checks  # noqa: F401  (registers system checks)
        from scheduler.dispatch.schedule import sync_dispatch_schedule

        post_migrate.connect(sync_dispatch_schedule, sender=self)
