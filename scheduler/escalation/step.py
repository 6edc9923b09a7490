"""The escalation step of a dispatch run: follow-ups, claim, then tell coordinators.

After sending, a run (1) turns open escalations whose mentor has since logged
a later activity `followed_up`, (2) claims the due escalations of each
scenario in one statement per scenario (an INSERT ... SELECT that skips rows
another run inserted first: the one-to-one constraint is the lock), (3) takes
over escalations whose email a finished or dead run never sent, and (4)
emails the coordinators, then sets `notified_at`. A crash between (2) and (4)
leaves `notified_at` empty, so the next run emails them again; a failed send
is logged and left for the next run. Nothing here ever stops dispatch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from scheduler.escalation import mail
from scheduler.escalation.rule import due_escalations, escalates, later_activity
from scheduler.models import DispatchRun, Escalation, EscalationStatus, PromptHistory, Scenario

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EscalationSummary:
    followed_up: int = 0
    created: int = 0
    emails: int = 0
    failed_emails: int = 0


def run_escalation(
    run: DispatchRun,
    scenarios: dict[int, Scenario],
    now: datetime,
    chapter_ids: Collection[int] | None = None,
    say: Callable[[str], None] = lambda message: None,
) -> EscalationSummary:
    """The whole step; logs and returns what it could do, never raises."""
    followed = created = 0
    try:
        followed = mark_followed_up(now)
    except Exception:
        logger.exception("escalation: could not mark follow-ups; the next run tries again")
    for scenario in scenarios.values():
        if not escalates(scenario):
            continue
        try:
            created += claim(scenario, run, now, chapter_ids)
        except Exception:  # one scenario's failure leaves the others their escalations
            logger.exception("escalation: could not claim for scenario %s", scenario.pk)
    try:
        take_over_unsent(run)
        sent, failed = mail.notify(run.pk, now)
    except Exception:
        logger.exception("escalation: could not email coordinators; the next run tries again")
        sent, failed = 0, 0
    say(f"7. escalation: {created} new, {followed} followed up, {sent} email(s), {failed} failed")
    return EscalationSummary(followed, created, sent, failed)


def mark_followed_up(now: datetime) -> int:
    """Open escalations whose mentor has logged a later activity for the contact: one UPDATE."""
    # `later_activity` compares with the columns of the escalation's prompt.
    followed = PromptHistory.objects.filter(pk=OuterRef("prompt_id")).filter(
        Exists(later_activity(now))
    )
    return (
        Escalation.objects.filter(status=EscalationStatus.OPEN)
        .filter(Exists(followed))
        .update(status=EscalationStatus.FOLLOWED_UP)
    )


def claim(
    scenario: Scenario, run: DispatchRun, now: datetime, chapter_ids: Collection[int] | None
) -> int:
    """Insert the scenario's due escalations, held by this run; returns how many it inserted.

    One statement: the due rule's SELECT feeds the INSERT, and a prompt
    another run escalated first is skipped by the one-to-one constraint.
    """
    due = due_escalations(scenario, now)
    if chapter_ids is not None:
        due = due.filter(peer_mentor__chapter_id__in=list(chapter_ids))
    select, params = due.values(due_prompt=F("pk")).order_by().query.sql_with_params()
    db = connections[DEFAULT_DB_ALIAS]
    table = db.ops.quote_name(Escalation._meta.db_table)
    created_at = db.ops.adapt_datetimefield_value(now)
    sql = (
        f"INSERT INTO {table} (prompt_id, created_at, notified_at, status, note, run_id, "
        f"handled_by_id, handled_at) "
        f"SELECT due.due_prompt, %s, NULL, %s, '', %s, NULL, NULL FROM ({select}) AS due WHERE TRUE "
        f"ON CONFLICT DO NOTHING RETURNING id"
    )
    with db.cursor() as cursor:
        cursor.execute(sql, [created_at, EscalationStatus.OPEN.value, run.pk, *params])
        return len(cursor.fetchall())


def take_over_unsent(run: DispatchRun) -> int:
    """Open escalations whose email a finished or dead run never sent become this run's.

    A compare-and-set: of overlapping runs only one takes a row, and a live
    run's rows are left to it.
    """
    ended = DispatchRun.objects.filter(lease_expires_at__lt=timezone.now()).values("pk")
    return Escalation.objects.filter(
        Q(run__isnull=True) | Q(run__in=ended),
        notified_at__isnull=True,
        status=EscalationStatus.OPEN,
    ).update(run=run)
