"""A coordinator's scenario (its rule and its text) and the closed periods that
make working days."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from scheduler.models.activity import ActivityKind
from scheduler.models.common import (
    BODY_MAX_LENGTH,
    CLOSED_PERIOD_MAX_DAYS,
    DELAY_DAYS_MAX,
    ESCALATE_AFTER_DAYS_MAX,
    LOOKBACK_DAYS_MAX,
    TITLE_MAX_LENGTH,
    WORKING_DAYS_MAX,
)
from scheduler.models.people import Chapter
from scheduler.text import is_blank


class DelayUnit(models.TextChoices):
    DAYS = "days", _("days")
    WORKING_DAYS = "working_days", _("working days")


class Scenario(models.Model):
    name = models.CharField(_("name"), max_length=120)
    is_enabled = models.BooleanField(_("enabled"), default=False)
    chapter = models.ForeignKey(
        Chapter,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="scenarios",
        verbose_name=_("chapter"),
        help_text=_("Leave empty to apply to every chapter."),
    )
    trigger_kind = models.CharField(
        _("trigger activity"),
        max_length=20,
        choices=ActivityKind.choices,
        default=ActivityKind.FIRST_CONTACT,
        help_text=_("The kind of activity that starts the countdown."),
    )
    delay_days = models.PositiveSmallIntegerField(
        _("delay (days)"),
        default=3,
        validators=[MinValueValidator(0), MaxValueValidator(DELAY_DAYS_MAX)],
        help_text=_("How many days after the activity the prompt is due."),
    )
    delay_unit = models.CharField(
        _("counted in"),
        max_length=12,
        choices=DelayUnit.choices,
        default=DelayUnit.DAYS,
        help_text=_(
            "Working days skip weekends, Norwegian public holidays and the chapter's closed days."
        ),
    )
    requires_wellbeing_concern = models.BooleanField(
        _("only when a wellbeing concern was flagged"), default=False
    )
    skip_if_followed_up = models.BooleanField(
        _("skip if followed up"),
        default=True,
        help_text=_(
            "Do not prompt when the mentor has already logged a later activity for the same contact."
        ),
    )
    lookback_days = models.PositiveSmallIntegerField(
        _("lookback (days)"),
        default=7,
        validators=[MinValueValidator(1), MaxValueValidator(LOOKBACK_DAYS_MAX)],
        help_text=_(
            "How long after the due time a prompt may still be sent; older ones are too late."
        ),
    )
    escalate_after_days = models.PositiveSmallIntegerField(
        _("tell the coordinators after (days)"),
        null=True,
        blank=True,
        default=None,
        validators=[MinValueValidator(1), MaxValueValidator(ESCALATE_AFTER_DAYS_MAX)],
        help_text=_(
            "Email the chapter's coordinators when the mentor has logged no later activity "
            "for the contact this many days after the prompt. Leave empty to switch it off."
        ),
    )
    title = models.CharField(_("title"), max_length=TITLE_MAX_LENGTH, blank=True)
    body = models.CharField(_("message"), max_length=BODY_MAX_LENGTH, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("scenario")
        verbose_name_plural = _("scenarios")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(delay_days__lte=DELAY_DAYS_MAX),
                name="scenario_delay_days_range",
            ),
            models.CheckConstraint(
                condition=models.Q(lookback_days__gte=1, lookback_days__lte=LOOKBACK_DAYS_MAX),
                name="scenario_lookback_days_range",
            ),
            models.CheckConstraint(
                condition=models.Q(escalate_after_days__isnull=True)
                | models.Q(
                    escalate_after_days__gte=1, escalate_after_days__lte=ESCALATE_AFTER_DAYS_MAX
                ),
                name="scenario_escalate_after_days_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def counts_working_days(self) -> bool:
        """Whether delays (and escalation) count working days rather than 24-hour days."""
        return self.delay_unit == DelayUnit.WORKING_DAYS

    def clean(self) -> None:
        super().clean()
        if self.delay_unit == DelayUnit.WORKING_DAYS and self.delay_days > WORKING_DAYS_MAX:
            raise ValidationError(
                {
                    "delay_days": _("A delay in working days can be at most %(max)d.")
                    % {"max": WORKING_DAYS_MAX}
                }
            )
        if self.is_enabled and self.missing_text():
            raise ValidationError(
                _("A scenario needs a title and a message before it can be enabled.")
            )

    def missing_text(self) -> bool:
        """A prompt without a title or a message is not worth sending.

        Text of spaces or invisible characters only (a zero-width space) shows
        nothing on a phone: it counts as missing.
        """
        return is_blank(self.title) or is_blank(self.body)


class ClosedPeriod(models.Model):
    """Days the organisation is closed: no working days, for one chapter or for all."""

    name = models.CharField(_("name"), max_length=120)
    first_day = models.DateField(_("first day"))
    last_day = models.DateField(_("last day"), help_text=_("Closed on this day too."))
    chapter = models.ForeignKey(
        Chapter,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="closed_periods",
        verbose_name=_("chapter"),
        help_text=_("Leave empty to close every chapter."),
    )

    class Meta:
        ordering = ["-first_day"]
        verbose_name = _("closed period")
        verbose_name_plural = _("closed periods")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(last_day__gte=models.F("first_day")),
                name="closed_period_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.first_day:%Y-%m-%d} to {self.last_day:%Y-%m-%d})"

    def clean(self) -> None:
        super().clean()
        if self.first_day is None or self.last_day is None:
            return
        if self.last_day < self.first_day:
            raise ValidationError({"last_day": _("The last day cannot come before the first.")})
        if (self.last_day - self.first_day).days + 1 > CLOSED_PERIOD_MAX_DAYS:
            raise ValidationError(
                {
                    "last_day": _("A closed period can be at most %(max)d days long.")
                    % {"max": CLOSED_PERIOD_MAX_DAYS}
                }
            )
