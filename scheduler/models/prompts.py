"""Dispatch runs and the prompt history they write: one row per (mentor, scenario,
activity), whatever became of it."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from scheduler.models.activity import Activity
from scheduler.models.common import BODY_MAX_LENGTH, TITLE_MAX_LENGTH, local_time
from scheduler.models.people import PeerMentor
from scheduler.models.scenario import Scenario

# When a run's group started: its tick's queueing for a shard, its own start otherwise.
GROUP_STARTED = Coalesce("tick_queued_at", "started_at")


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
    # When the tick was queued, the same on each of its shards: the run list sorts a tick's
    # shards together by it, however late a busy node started its shard.
    tick_queued_at = models.DateTimeField(_("tick queued"), null=True, blank=True, default=None)

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
            # Pruning by age (scheduler/retention.py) and the date drill-down.
            models.Index(fields=["started_at"], name="dispatchrun_started"),
            # The run list's order: a sharded tick's runs together (scheduler/admin/runs.py).
            models.Index(
                GROUP_STARTED.desc(), models.F("shard_index"), name="dispatchrun_group_order"
            ),
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


# The statuses a prompt ends in; `PromptHistory.finished_at` records when it got there.
FINISHED_STATUSES = (PromptStatus.DISPATCHED, PromptStatus.FAILED, PromptStatus.SKIPPED)


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
