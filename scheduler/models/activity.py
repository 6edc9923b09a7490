"""An activity a peer mentor logged: what starts a scenario's countdown."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from scheduler.models.common import (
    OCCURRED_AT_EARLIEST,
    OCCURRED_AT_END,
    OCCURRED_AT_OUT_OF_RANGE,
    local_time,
    occurred_at_in_range,
    require_time_zone,
)
from scheduler.models.people import PeerMentor


class ActivityKind(models.TextChoices):
    FIRST_CONTACT = "first_contact", _("first contact")
    FOLLOW_UP = "follow_up", _("follow-up")
    PHONE_CALL = "phone_call", _("phone call")
    HOME_VISIT = "home_visit", _("home visit")


class Activity(models.Model):
    peer_mentor = models.ForeignKey(
        PeerMentor,
        on_delete=models.CASCADE,
        related_name="activities",
        verbose_name=_("peer mentor"),
    )
    # An opaque reference to the person helped: never a name, never sent anywhere.
    contact_ref = models.CharField(_("contact reference"), max_length=64)
    kind = models.CharField(_("kind"), max_length=20, choices=ActivityKind.choices)
    occurred_at = models.DateTimeField(_("occurred at"))
    wellbeing_concern = models.BooleanField(_("wellbeing concern flagged"), default=False)
    notes = models.TextField(_("notes"), blank=True, default="")
    # Chosen by the mobile app so a retried request finds its first row; empty
    # for activities entered in the admin.
    client_id = models.UUIDField(_("app id"), null=True, blank=True)
    # A withdrawn activity triggers and cancels nothing; its prompt history stays.
    withdrawn_at = models.DateTimeField(_("withdrawn"), null=True, blank=True)

    class Meta:
        ordering = ["-occurred_at"]
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        constraints = [
            models.UniqueConstraint(
                fields=["peer_mentor", "client_id"], name="activity_unique_client_id"
            ),
            models.CheckConstraint(
                condition=models.Q(
                    occurred_at__gte=OCCURRED_AT_EARLIEST, occurred_at__lt=OCCURRED_AT_END
                ),
                name="activity_occurred_at_bounds",
                violation_error_message=OCCURRED_AT_OUT_OF_RANGE,
            ),
        ]
        indexes = [
            # Evaluation: trigger kind within a time window.
            models.Index(fields=["kind", "occurred_at"], name="activity_kind_occurred"),
            # "Followed up?": later activity for the same mentor and contact.
            models.Index(
                fields=["peer_mentor", "contact_ref", "occurred_at"], name="activity_followup"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {local_time(self.occurred_at):%Y-%m-%d}"

    @property
    def from_app(self) -> bool:
        return self.client_id is not None

    def clean(self) -> None:
        super().clean()
        require_time_zone(self, "occurred_at")
        if self.occurred_at is not None and not occurred_at_in_range(self.occurred_at):
            raise ValidationError({"occurred_at": OCCURRED_AT_OUT_OF_RANGE})
