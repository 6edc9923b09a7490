"""Old dispatch runs go; the prompt history they wrote stays.

Runs older than `DISPATCH_RUN_RETENTION_DAYS` are deleted after a scheduled
run (and after `run_dispatch`), a batch at a time: per batch one statement
detaches the batch's prompts (`run` becomes null, as `on_delete=SET_NULL`
would) and one deletes the runs, whatever the number of prompts. A call deletes
at most `MAX_BATCHES` batches, so a long backlog is worked off over several
runs instead of holding one up; it never raises.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from scheduler.models import DispatchRun

logger = logging.getLogger(__name__)

BATCH_SIZE = 1000
MAX_BATCHES = 50


def prune_dispatch_runs(now: datetime | None = None) -> int:
    """Delete the runs that started before the retention period; how many were deleted."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.DISPATCH_RUN_RETENTION_DAYS)
    deleted = 0
    try:
        for _ in range(MAX_BATCHES):
            batch = delete_batch(cutoff)
            deleted += batch
            if batch < BATCH_SIZE:
                break
    except DatabaseError as exc:
        logger.warning("pruning old dispatch runs stopped: %s", type(exc).__name__)
    if deleted:
        logger.info("deleted %s dispatch runs older than %s", deleted, cutoff.date())
    return deleted


def delete_batch(cutoff: datetime) -> int:
    """One batch of the oldest runs before `cutoff`, their prompts kept."""
    with transaction.atomic():
        ids = list(
            DispatchRun.objects.filter(started_at__lt=cutoff)
            .order_by("started_at")
            .values_list("pk", flat=True)[:BATCH_SIZE]
        )
        if not ids:
            return 0
        # on_delete=SET_NULL: delete() detaches the prompts with one UPDATE, loading none.
        DispatchRun.objects.filter(pk__in=ids).delete()
    return len(ids)
