from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from scheduler.coordinators.report import DEFAULT_DAYS, ScenarioRow, scenario_report

BAR_WIDTH = 30


class Command(BaseCommand):
    help = (
        "Per scenario, over prompts created in the last N days: sent, opened, followed up "
        "and the median time to follow-up."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=DEFAULT_DAYS, metavar="N")
        parser.add_argument("--json", action="store_true", help="Print one JSON list on stdout.")

    def handle(self, *args: Any, **options: Any) -> None:
        days: int = options["days"]
        if days < 1:
            raise CommandError("--days must be 1 or more.")
        as_json: bool = options["json"]
        show_bar = not as_json and self.stderr.isatty()
        if show_bar:
            self.stderr.write(f"Counting prompts of the last {days} days…")
        try:
            rows = scenario_report(days=days)
        except DatabaseError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CommandError(f"Database unreachable: {first}") from None
        if as_json:
            self.stdout.write(json.dumps([row.as_dict() for row in rows], ensure_ascii=False))
            return
        self.stdout.write(header(days))
        for index, row in enumerate(rows, 1):
            self.stdout.write(line(row))
            if show_bar:
                self.stderr.write(bar(index, len(rows)), ending="\r")
        if show_bar:
            self.stderr.write("")


def header(days: int, now: datetime | None = None) -> str:
    """The period, and what each figure counts, in the language of the admin."""
    end = timezone.localtime(now)
    start = end - timedelta(days=days)
    return "\n".join(
        [
            _("Prompts created from %(start)s to %(end)s (the last %(days)d days), per scenario.")
            % {"start": f"{start:%Y-%m-%d %H:%M}", "end": f"{end:%Y-%m-%d %H:%M}", "days": days},
            _(
                "Sent: the push service accepted it. Opened: the mentor opened it in the app. "
                "Followed up: the mentor logged an activity for the same contact within "
                "%(window)d days after it was sent."
            )
            % {"window": settings.FOLLOW_UP_WINDOW_DAYS},
            _(
                "Median: of the followed-up prompts, the middle of the times from sending to "
                "the follow-up (half took less, half took more)."
            ),
            "",
        ]
    )


def line(row: ScenarioRow) -> str:
    f = row.figures
    median = (
        "-"
        if f.median_follow_up_hours is None
        else _("%(hours)s h") % {"hours": formats.number_format(f.median_follow_up_hours, 1)}
    )
    return "\t".join(
        [
            f"#{row.scenario_id} {row.name}",
            _("sent %(n)d") % {"n": f.sent},
            _("opened %(rate)s") % {"rate": f.opened_text},
            _("followed up %(rate)s") % {"rate": f.followed_up_text},
            _("median %(median)s") % {"median": median},
            _("escalated %(n)d") % {"n": row.escalated},
        ]
    )


def bar(done: int, total: int) -> str:
    filled = BAR_WIDTH * done // max(total, 1)
    return f"[{'#' * filled}{' ' * (BAR_WIDTH - filled)}] {done}/{total}"
