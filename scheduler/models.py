"""The data contract of docs/design.md: names here are relied on elsewhere."""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import (
    MaxValueValidator,
    MinLengthValidator,
    MinValueValidator,
    RegexValidator,
)
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from scheduler.text import is_blank

# Limits that keep a push notification readable on a lock screen.
TITLE_MAX_LENGTH = 65
BODY_MAX_LENGTH = 240
DELAY_DAYS_MAX = 90
WORKING_DAYS_MAX = 60
CLOSED_PERIOD_MAX_DAYS = 366
LOOKBACK_DAYS_MAX = 60
ESCALATE_AFTER_DAYS_MAX = 30
# FCM and APNs tokens are a few hundred ASCII characters. The cap keeps the
# unique index within PostgreSQL's b-tree row limit (about 2,700 bytes), which
# is why a token must also be plain ASCII: one byte a character.
DEVICE_TOKEN_MAX_LENGTH = 2048
# An activity happened in these years (UTC, the end excluded); a CHECK constraint
# holds every writer to them. Outside, a time may have no local time (the last
# hours of 9999) or not be readable at all (a year BC on PostgreSQL).
OCCURRED_AT_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
OCCURRED_AT_END = datetime(2100, 1, 1, tzinfo=UTC)
OCCURRED_AT_OUT_OF_RANGE = _("Give a time in the years 2000 to 2099.")


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


def local_time(moment: datetime) -> datetime:
    """What people read is local time (TIME_ZONE), not the UTC the database keeps."""
    if timezone.is_naive(moment):
        return moment
    try:
        return timezone.localtime(moment)
    except OverflowError:  # the last hours of the year 9999 have no local time
        return moment


def masked_token(token: str) -> str:
    return f"…{token[-6:]}" if len(token) > 6 else "…"


def require_time_zone(instance: models.Model, field_name: str) -> None:
    """A naive time would be read in the server's zone and shift due times silently."""
    value = getattr(instance, field_name)
    if value is not None and timezone.is_naive(value):
        raise ValidationError({field_name: _("Give a time with a time zone.")})


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


def occurred_at_in_range(moment: datetime) -> bool:
    """Whether an aware time lies within the years the database accepts."""
    return OCCURRED_AT_EARLIEST <= moment < OCCURRED_AT_END


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


class DispatchRun(models.Model):
    class Trigger(models.TextChoices):
        COMMAND = "command", _("command")
        SCHEDULE = "schedule", _("schedule")
        ADMIN = "admin", _("admin")

    started_at = models.DateTimeField(_("started"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    trigger = models.CharField(_("started by"), max_length=20, choices=Trigger.choices)
    dispatched = models.PositiveIntegerField(_("dispatched"), default=0)
    failed = models.PositiveIntegerField(_("failed"), default=0)
    skipped = models.PositiveIntegerField(_("skipped"), default=0)
    retrying = models.PositiveIntegerField(_("to retry"), default=0)
    in_doubt = models.PositiveIntegerField(_("in doubt"), default=0)
    deferred = models.JSONField(_("deferred by reason"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True, default="")
    # Renewed while the run is alive (scheduler/dispatch/lease.py); null once it finished.
    lease_expires_at = models.DateTimeField(_("lease expires"), null=True, blank=True, default=None)
    # A sharded tick (DISPATCH_SHARDS > 1) is several runs, one per shard, sharing `tick`;
    # a shard covers the mentors whose id % shard_count == shard_index.
    # Database defaults too: rows written by SQL (another tool, an older release) are unsharded.
    shard_index = models.PositiveSmallIntegerField(_("shard"), default=0, db_default=0)
    shard_count = models.PositiveSmallIntegerField(_("shards"), default=1, db_default=1)
    tick = models.UUIDField(_("tick"), null=True, blank=True, default=None)

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            # /healthz and the admin banner read the latest finished runs, and the
            # latest one without an error, on every request (scheduler/monitoring/health.py).
            models.Index(
                fields=["finished_at"],
                condition=models.Q(finished_at__isnull=False),
                name="dispatchrun_finished",
            ),
            models.Index(
                fields=["finished_at"],
                condition=models.Q(finished_at__isnull=False, error=""),
                name="dispatchrun_finished_ok",
            ),
            # The run list's order, and pruning by age (scheduler/retention.py).
            models.Index(fields=["started_at"], name="dispatchrun_started"),
        ]
        verbose_name = _("dispatch run")
        verbose_name_plural = _("dispatch runs")
        permissions = [("run_dispatch_now", _("Can start a dispatch run from the admin"))]

    def __str__(self) -> str:
        return f"{self.get_trigger_display()} {local_time(self.started_at):%Y-%m-%d %H:%M}"


class PromptStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    DISPATCHED = "dispatched", _("dispatched")
    RETRY = "retry", _("to retry")
    FAILED = "failed", _("failed")
    SKIPPED = "skipped", _("skipped")


class PromptHistory(models.Model):
    Status = PromptStatus

    peer_mentor = models.ForeignKey(PeerMentor, on_delete=models.CASCADE, related_name="prompts")
    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="prompts")
    # RESTRICT: an activity with prompts cannot be deleted on its own (withdraw it
    # instead), yet deleting its mentor still removes both.
    activity = models.ForeignKey(Activity, on_delete=models.RESTRICT, related_name="prompts")
    status = models.CharField(
        _("status"), max_length=12, choices=PromptStatus.choices, default=PromptStatus.PENDING
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    dispatched_at = models.DateTimeField(_("dispatched at"), null=True, blank=True)
    # When the prompt reached dispatched, failed or skipped (for dispatched: dispatched_at);
    # escalation counts from here.
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True, default=None)
    opened_at = models.DateTimeField(_("opened in the app"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True, default="")
    run = models.ForeignKey(
        DispatchRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="prompts"
    )
    # Claim bookkeeping: `claimed_at` dates the run's ownership, `sending_started_at`
    # is set (compare-and-set) just before the first request, so a crash leaves
    # only those rows in doubt.
    claimed_at = models.DateTimeField(null=True, blank=True)
    sending_started_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    needs_review = models.BooleanField(
        _("needs review"),
        default=False,
        help_text=_("The run stopped while sending: the mentor may or may not have received it."),
    )
    # What the coordinator's rule said and the phone showed, as they were then.
    rule_sentence = models.TextField(_("rule"), blank=True, default="")
    title = models.CharField(_("title"), max_length=TITLE_MAX_LENGTH, blank=True, default="")
    body = models.CharField(_("message"), max_length=BODY_MAX_LENGTH, blank=True, default="")

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("prompt")
        verbose_name_plural = _("prompt history")
        constraints = [
            models.UniqueConstraint(
                fields=["peer_mentor", "scenario", "activity"], name="unique_prompt_per_triple"
            ),
        ]
        indexes = [
            models.Index(fields=["scenario", "activity"], name="prompt_scenario_activity"),
            models.Index(fields=["status", "next_attempt_at"], name="prompt_status_next"),
            models.Index(fields=["peer_mentor", "dispatched_at"], name="prompt_mentor_dispatched"),
            models.Index(fields=["created_at"], name="prompt_created"),
            # Escalation: a scenario's finished prompts within a window.
            models.Index(fields=["scenario", "finished_at"], name="prompt_scenario_finished"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_status_display()}"


# Kept in its own module; imported here so Django registers it with the app's models.
from scheduler.escalation.models import Escalation as Escalation  # noqa: E402
from scheduler.escalation.models import EscalationStatus as EscalationStatus  # noqa: E402
