from __future__ import annotations

import signal
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connection
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from scheduler.dispatch.conf import DispatchConf
from scheduler.dispatch.pipeline import run_dispatch
from scheduler.dispatch.shard import WHOLE, Shard
from scheduler.dispatch.summary import DispatchSummary
from scheduler.due_prompts import DuePrompt
from scheduler.models import DispatchRun, PeerMentor, Scenario
from scheduler.push import get_backend
from scheduler.retention import prune_dispatch_runs

NAME_CHUNK = 1000


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
        parser.add_argument(
            "--at",
            metavar="ISO_DATETIME",
            help=(
                "With --dry-run: evaluate as if now were this moment (due window, quiet hours, "
                "pauses), e.g. 2027-03-30T10:00+02:00; without an offset, in TIME_ZONE."
            ),
        )
        parser.add_argument(
            "--shard",
            metavar="I/K",
            help="Only the mentors whose id % K is I (0 <= I < K), as one shard of K does.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        as_json: bool = options["json"]
        dry_run: bool = options["dry_run"]
        scenario_id: int | None = options["scenario"]
        now = as_if(options["at"], dry_run=dry_run)
        shard = parse_shard(options["shard"])

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
                now=now,
                shard=shard,
                backend=backend,
                progress=progress,
                stop=stop,
                conf=conf,
            )
        except DatabaseError as exc:
            raise CommandError(f"Database error during the run: {first_line(exc)}") from None
        finally:
            signal.signal(signal.SIGTERM, previous)
        prune_after_a_run(dry_run=dry_run, stopped=stop.is_set())

        if as_json:
            self.stdout.write(summary.as_json(dry_run=dry_run))
        else:
            self.stdout.write(human_summary(summary, dry_run=dry_run))
        if summary.misconfigured:
            raise CommandError(f"Push backend misconfigured: {summary.misconfigured}")


def as_if(value: str | None, *, dry_run: bool) -> datetime | None:
    """The moment of `--at`, aware; None without it. Only a dry run may pretend."""
    if value is None:
        return None
    if not dry_run:
        raise CommandError("--at needs --dry-run: a real run sends at the real time.")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(
            f"--at {value!r} is not an ISO 8601 time, e.g. 2027-03-30T10:00+02:00."
        ) from None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)  # read in TIME_ZONE
    # In UTC, as the real clock gives it: "a day earlier" is then 24 hours, not wall-clock.
    return moment.astimezone(UTC)


def parse_shard(text: str | None) -> Shard:
    if text is None:
        return WHOLE
    try:
        return Shard.parse(text)
    except ValueError as exc:
        raise CommandError(f"--shard: {exc}.") from None


def prune_after_a_run(*, dry_run: bool, stopped: bool) -> None:
    """Old runs go after a real run that was not told to stop (a cron may run this, not qcluster)."""
    if not dry_run and not stopped:
        prune_dispatch_runs()  # never raises


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
    """The result for people: names and local times, in the admin's language."""
    lines = []
    if dry_run:
        lines.append(
            ngettext(
                "Dry run: %(count)d prompt would be sent now.",
                "Dry run: %(count)d prompts would be sent now.",
                len(summary.prompts),
            )
            % {"count": len(summary.prompts)}
        )
        lines += prompt_lines(summary.prompts)
        if summary.too_late:
            lines.append(
                _("Too late (left the lookback in the last day, never sent): %(count)d.")
                % {"count": summary.too_late}
            )
    else:
        lines.append(
            _(
                "Dispatched %(dispatched)d, failed %(failed)d, skipped %(skipped)d, "
                "to retry %(retrying)d, in doubt %(in_doubt)d."
            )
            % {
                "dispatched": summary.dispatched,
                "failed": summary.failed,
                "skipped": summary.skipped,
                "retrying": summary.retrying,
                "in_doubt": summary.in_doubt,
            }
        )
    for reason, count in sorted(summary.deferred.items()):
        line = _("Deferred (%(reason)s): %(count)d") % {"reason": reason, "count": count}
        if reason == "quiet_hours" and summary.deferred_until:
            line += " " + _("until %(time)s") % {"time": local_stamp(summary.deferred_until)}
        lines.append(line + ".")
    return "\n".join(lines)


def prompt_lines(prompts: Sequence[DuePrompt]) -> list[str]:
    mentors = names_of(PeerMentor, {p.peer_mentor_id for p in prompts})
    scenarios = names_of(Scenario, {p.scenario_id for p in prompts})
    return [
        "  "
        + _(
            "%(mentor)s (mentor %(mentor_id)d), scenario “%(scenario)s” (%(scenario_id)d), "
            "activity %(activity_id)d, due %(due)s"
        )
        % {
            "mentor": mentors.get(p.peer_mentor_id, "?"),
            "mentor_id": p.peer_mentor_id,
            "scenario": scenarios.get(p.scenario_id, "?"),
            "scenario_id": p.scenario_id,
            "activity_id": p.activity_id,
            "due": local_stamp(p.due_at),
        }
        for p in prompts
    ]


def names_of(model: type[PeerMentor] | type[Scenario], ids: set[int]) -> dict[int, str]:
    """Names by id, a thousand ids a query."""
    ordered = sorted(ids)
    names: dict[int, str] = {}
    for start in range(0, len(ordered), NAME_CHUNK):
        chunk = ordered[start : start + NAME_CHUNK]
        names.update(model.objects.filter(pk__in=chunk).values_list("pk", "name"))
    return names


def local_stamp(moment: datetime) -> str:
    """Local time with its zone, e.g. 2026-12-04 16:56 CET."""
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M %Z}"


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
