"""Send one test prompt to every active device of a mentor and show what happened.

No PromptHistory row is written: that table is the delivery log coordinators
read and the ledger that stops duplicates, and a test has no activity to hang
a row on. The command's own output is the record.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from scheduler.models import DeviceToken, PeerMentor, Scenario, masked_token
from scheduler.push import PushMessage, SendOutcome, get_backend

logger = logging.getLogger(__name__)

# Scenario id 0 marks a test prompt that belongs to no scenario.
TEST_SCENARIO_ID = 0


class Command(BaseCommand):
    help = "Send a test push notification to each active device of one peer mentor."
    # A diagnostic tool: a broken push setting is reported below in one line, not
    # as the whole system-check report.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("mentor", metavar="MENTOR", help="The mentor's id or exact name.")
        parser.add_argument(
            "--scenario",
            type=int,
            metavar="ID",
            help="Send this scenario's title and message instead of the fixed test text.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        mentor = find_mentor(options["mentor"])
        devices = list(mentor.device_tokens.filter(is_active=True).order_by("pk"))
        if not devices:
            raise CommandError(f"{mentor.name} (id {mentor.pk}) has no active device.")
        scenario_id, title, body = prompt_text(options["scenario"])
        try:
            backend = get_backend(concurrency=1)
        except ImproperlyConfigured as exc:
            raise CommandError(f"Push backend misconfigured: {exc}") from None

        sys.stderr.write(
            f"Sending a test prompt to {mentor.name} (id {mentor.pk}) through the "
            f"{settings.PUSH_BACKEND} backend, {len(devices)} active device(s).\n"
        )
        delivered = 0
        with backend:
            for device in devices:
                outcome = backend.send(
                    PushMessage(
                        prompt_id=None,
                        peer_mentor_id=mentor.pk,
                        scenario_id=scenario_id,
                        device_token=device.token,
                        title=title,
                        body=body,
                    )
                )
                delivered += outcome.ok
                self.stdout.write(device_line(device, outcome))
        logger.info(
            "test prompt to mentor %s: %s of %s device(s) accepted",
            mentor.pk,
            delivered,
            len(devices),
        )
        if not delivered:
            raise CommandError("No device accepted the test prompt.")


def find_mentor(reference: str) -> PeerMentor:
    reference = reference.strip()
    if reference.isdigit():
        by_id = PeerMentor.objects.filter(pk=int(reference)).first()
        if by_id is not None:
            return by_id
    matches = list(PeerMentor.objects.filter(name=reference).order_by("pk")[:5])
    if not matches:
        raise CommandError(f"No peer mentor with id or name {reference!r}.")
    if len(matches) > 1:
        ids = ", ".join(str(m.pk) for m in matches)
        raise CommandError(f"Several peer mentors are called {reference!r}; use an id: {ids}.")
    return matches[0]


def prompt_text(scenario_id: int | None) -> tuple[int, str, str]:
    if scenario_id is None:
        return (
            TEST_SCENARIO_ID,
            _("Test notification"),
            _("This is a test of follow-up prompts. No action is needed."),
        )
    scenario = Scenario.objects.filter(pk=scenario_id).first()
    if scenario is None:
        raise CommandError(f"No scenario with id {scenario_id}.")
    return scenario.pk, scenario.title, scenario.body


def device_line(device: DeviceToken, outcome: SendOutcome) -> str:
    line = f"{device.platform} {masked_token(device.token)}: {outcome.delivery}"
    if outcome.error:
        line += f": {outcome.error}"
    if outcome.retry_after:
        line += f" (retry after {outcome.retry_after:g} s)"
    if outcome.token_invalid:
        line += " (the token is dead: the next dispatch run that sends to it deactivates it)"
    return line
