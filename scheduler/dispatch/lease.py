"""A run's liveness: a lease on its DispatchRun row, renewed from a thread of its own.

Another run may take over the claims of a run whose lease has expired at
once, instead of waiting out `DISPATCH_STALE_CLAIM_SECONDS`. Renewal runs on
its own thread and connection, so slow sends or a busy interpreter do not
hold it up. A renewal that fails is tried again soon on a fresh connection,
so a dropped connection costs nothing; a run that cannot renew within its
margin, or whose row is gone, stops claiming for good: past the expiry another
run may already own what it would claim.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from enum import Enum
from types import TracebackType

from django.conf import settings
from django.db import connection
from django.utils import timezone

from scheduler.models import DispatchRun

logger = logging.getLogger(__name__)


class Renewal(Enum):
    RENEWED = "renewed"
    FAILED = "failed"  # the database refused or went away: worth another try
    ROW_GONE = "row gone"  # nothing left to renew


def lease_expiry(seconds: int | None = None) -> timedelta:
    return timedelta(seconds=settings.DISPATCH_LEASE_SECONDS if seconds is None else seconds)


class Lease:
    def __init__(self, run: DispatchRun, seconds: int | None = None) -> None:
        self.run_id = run.pk
        self.seconds = settings.DISPATCH_LEASE_SECONDS if seconds is None else seconds
        self._stopped = threading.Event()
        self._renewed_at = time.monotonic()
        self._lost = False
        self._thread = threading.Thread(target=self._keep_renewing, name="lease", daemon=True)

    def __enter__(self) -> Lease:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stopped.set()
        self._thread.join(timeout=self.seconds)

    @property
    def lost(self) -> bool:
        """True once the last renewal is older than the lease's margin, or the row is gone.

        Once lost, it stays lost: a renewal that lands late does not give back
        claims another run may have taken over meanwhile.
        """
        # A margin of a renewal interval: stop claiming before others may take over.
        if time.monotonic() - self._renewed_at > self.seconds - self.interval:
            self._lost = True
        return self._lost

    @property
    def interval(self) -> float:
        return self.seconds / 3

    def _keep_renewing(self) -> None:
        wait = self.interval
        try:
            while not self._stopped.wait(wait) and not self.lost:
                renewal = self._renew()
                if renewal is Renewal.ROW_GONE:
                    self._lost = True
                    return
                # After a failure, try again soon: the margin allows a few attempts.
                wait = self.interval if renewal is Renewal.RENEWED else self.interval / 4
            if self.lost:
                logger.error(
                    "dispatch run %s could not renew its lease; it stops claiming", self.run_id
                )
        finally:
            connection.close()  # this thread's own connection

    def _renew(self) -> Renewal:
        try:
            renewed = DispatchRun.objects.filter(pk=self.run_id).update(
                lease_expires_at=timezone.now() + lease_expiry(self.seconds)
            )
        except Exception:
            logger.warning(
                "dispatch run %s could not renew its lease; trying again",
                self.run_id,
                exc_info=True,
            )
            connection.close()  # the next attempt opens a fresh connection
            return Renewal.FAILED
        if renewed != 1:
            logger.error("dispatch run %s has lost its row; it stops claiming", self.run_id)
            return Renewal.ROW_GONE
        self._renewed_at = time.monotonic()
        return Renewal.RENEWED
