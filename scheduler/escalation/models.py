"""The Escalation record: one per prompt, its one-to-one constraint is the claim's lock."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class EscalationStatus(models.TextChoices):
    OPEN = "open", _("open")
    FOLLOWED_UP = "followed_up", _("followed up")
    HANDLED = "handled", _("handled")


class Escalation(models.Model):
    Status = EscalationStatus

    prompt = models.OneToOneField(
        "scheduler.PromptHistory",
        on_delete=models.CASCADE,
        related_name="escalation",
        verbose_name=_("prompt"),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    # Set once the coordinators' emails went out; empty means the next run sends them.
    notified_at = models.DateTimeField(_("coordinators told"), null=True, blank=True, default=None)
    status = models.CharField(
        _("status"), max_length=12, choices=EscalationStatus.choices, default=EscalationStatus.OPEN
    )
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        default=None,
        related_name="+",
        verbose_name=_("handled by"),
    )
    handled_at = models.DateTimeField(_("handled"), null=True, blank=True, default=None)
    note = models.TextField(_("note"), blank=True, default="")
    # The run that holds the unsent email; once its lease has expired another run takes it over.
    run = models.ForeignKey(
        "scheduler.DispatchRun",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        default=None,
        related_name="escalations",
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("concern without follow-up")
        verbose_name_plural = _("concerns without follow-up")
        indexes = [
            models.Index(fields=["created_at"], name="escalation_created"),
            models.Index(
                fields=["status"],
                condition=models.Q(status="open"),
                name="escalation_open",
            ),
            models.Index(
                fields=["created_at"],
                condition=models.Q(notified_at__isnull=True),
                name="escalation_unsent",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_status_display()}"
