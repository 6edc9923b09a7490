from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connection
from django.utils import timezone

from scheduler.dispatch.conf import DispatchConf
from scheduler.dispatch.pipeline import DispatchSummary, run_dispatch
from scheduler.models import DispatchRun, Scenario
from scheduler.push import get_backend


class Command(BaseCommand):
    help = "Evaluate the enabled scenarios and send the prompts that are due now."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Show what would be sent; write and send nothing.",
        )
        parser.add_argument("--scenario", type=int, metavar="ID", help="Only this scenario.")
        parser.add_argument("--json", action="store_true", help="Print one JSON object on stdout.")

    def handle(self, *args: Any, **options: Any) -> None:
        as_json: bool = options["json"]
        dry_run: bool = options["dry_run"]
        scenario_id: int | None = options["scenario"]

        def progress(message: str) -> None:
            # Progress is for people: stderr, so stdout stays one JSON object.
            if not as_json or options["verbosity"] > 1:
                self.stderr.write(message)

        conf = DispatchConf.from_settings()
        backend = None
        try:
            connection.ensure_connection()
            if scenario_id is not None:
                check_scenario(scenario_id)
            if not dry_run:
                backend = get_backend(concurrency=conf.concurrency)
        except ImproperlyConfigured as exc:
            raise CommandError(f"Push backend misconfigured: {exc}") from None
        except DatabaseError as exc:
            raise CommandError(f"Database unreachable: {first_line(exc)}") from None

        stop = threading.Event()
        previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
        try:
            summary = run_dispatch(
                trigger=DispatchRun.Trigger.COMMAND,
                dry_run=dry_run,
                scenario_id=scenario_id,
                backend=backend,
                progress=progress,
                stop=stop,
                conf=conf,
            )
        except DatabaseError as exc:
            raise CommandError(f"Database error during the run: {first_line(exc)}") from None
        finally:
            signal.signal(signal.SIGTERM, previous)

        if as_json:
            self.stdout.write(summary.as_json(dry_run=dry_run))
        else:
            self.stdout.write(human_summary(summary, dry_run=dry_run))
        if summary.misconfigured:
            raise CommandError(f"Push backend misconfigured: {summary.misconfigured}")


def check_scenario(scenario_id: int) -> None:
    enabled = Scenario.objects.filter(pk=scenario_id).values_list("is_enabled", flat=True).first()
    if enabled is None:
        raise CommandError(f"No scenario with id {scenario_id}.")
    if not enabled:
        raise CommandError(
            f"Scenario {scenario_id} is disabled; enable it first (its admin preview works "
            "while disabled)."
        )


def human_summary(summary: DispatchSummary, *, dry_run: bool) -> str:
    lines = []
    if dry_run:
        lines.append(f"Dry run: {len(summary.prompts)} prompt(s) would be sent now.")
        lines += [
            f"  mentor {p.peer_mentor_id}, scenario {p.scenario_id}, activity {p.activity_id}, due {p.due_at:%Y-%m-%d %H:%M}"
            for p in summary.prompts
        ]
        if summary.too_late:
            lines.append(
                f"Too late (left the lookback in the last day, never sent): {summary.too_late}."
            )
    else:
        lines.append(
            f"Dispatched {summary.dispatched}, failed {summary.failed}, skipped {summary.skipped}, "
            f"to retry {summary.retrying}, in doubt {summary.in_doubt}."
        )
    for reason, count in sorted(summary.deferred.items()):
        until = (
            f" until {timezone.localtime(summary.deferred_until):%Y-%m-%d %H:%M}"
            if reason == "quiet_hours" and summary.deferred_until
            else ""
        )
        lines.append(f"Deferred ({reason}): {count}{until}.")
    return "\n".join(lines)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
