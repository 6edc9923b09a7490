"""Who the scheduler serves: chapters, their coordinators, the peer mentors and
their devices."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinLengthValidator, RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from scheduler.models.common import DEVICE_TOKEN_MAX_LENGTH, masked_token, require_time_zone


class Chapter(models.Model):
    name = models.CharField(_("name"), max_length=120, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("chapter")
        verbose_name_plural = _("chapters")

    def __str__(self) -> str:
        return self.name


class Coordinator(models.Model):
    """Links a staff user to the chapters whose data they may see and edit."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="coordinator"
    )
    chapters = models.ManyToManyField(Chapter, related_name="coordinators", blank=True)

    class Meta:
        verbose_name = _("coordinator")
        verbose_name_plural = _("coordinators")

    def __str__(self) -> str:
        return str(self.user)


class PeerMentor(models.Model):
    name = models.CharField(_("name"), max_length=120)
    chapter = models.ForeignKey(
        Chapter, on_delete=models.PROTECT, related_name="peer_mentors", verbose_name=_("chapter")
    )
    is_active = models.BooleanField(_("active"), default=True)
    prompts_paused_until = models.DateTimeField(
        _("prompts paused until"),
        null=True,
        blank=True,
        help_text=_("No prompts are sent before this time, e.g. during a holiday."),
    )
    # The `sub` of the mentor's Supabase access tokens: links the mobile app's
    # sign-in to this mentor. Set by a coordinator; empty means no app access.
    auth_user_id = models.UUIDField(
        _("app user id"),
        unique=True,
        null=True,
        blank=True,
        help_text=_("The mentor's user id in Supabase Auth, which the mobile app signs in with."),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("peer mentor")
        verbose_name_plural = _("peer mentors")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        require_time_zone(self, "prompts_paused_until")


class DeviceToken(models.Model):
    class Platform(models.TextChoices):
        ANDROID = "android", _("Android")
        IOS = "ios", _("iOS")
        WEB = "web", _("Web")

    peer_mentor = models.ForeignKey(
        PeerMentor, on_delete=models.CASCADE, related_name="device_tokens"
    )
    token = models.CharField(
        _("token"),
        max_length=DEVICE_TOKEN_MAX_LENGTH,
        unique=True,
        validators=[
            MinLengthValidator(8),
            RegexValidator(
                r"\A[\x21-\x7e]*\Z",
                _("A device token is plain ASCII, without spaces or control characters."),
                code="token_characters",
            ),
        ],
    )
    platform = models.CharField(
        _("platform"), max_length=10, choices=Platform.choices, default=Platform.ANDROID
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("registered"), default=timezone.now)
    deactivated_at = models.DateTimeField(_("deactivated"), null=True, blank=True)
    deactivation_reason = models.CharField(_("deactivation reason"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("device token")
        verbose_name_plural = _("device tokens")
        indexes = [
            models.Index(fields=["peer_mentor", "is_active"], name="devicetoken_mentor_active")
        ]

    def __str__(self) -> str:
        return masked_token(self.token)

    def clean(self) -> None:
        super().clean()
        if any(ch.isspace() or not ch.isprintable() for ch in self.token):
            raise ValidationError(
                {"token": _("A device token cannot contain spaces or control characters.")}
            )
