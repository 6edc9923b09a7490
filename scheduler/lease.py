"""A run's liveness: a lease on its DispatchRun row, renewed from a thread of its own.

Another run may take over the claims of a run whose lease has expired at
once, instead of waiting out `DISPATCH_STALE_CLAIM_SECONDS`. Renewal runs on
its own thread and connection, so slow sends or a busy interpreter do not
hold it up. A run that cannot renew its lease stops claiming: past the
expiry another run may already own what it would claim.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from types import TracebackType

from django.conf import settings
from django.db import connection
from django.utils import timezone

from scheduler.models import DispatchRun

logger = logging.getLogger(__name__)


def lease_expiry() -> timedelta:
    return timedelta(seconds=settings.DISPATCH_LEASE_SECONDS)


class Lease:
    def __init__(self, run: DispatchRun) -> None:
        self.run_id = run.pk
        self.seconds = settings.DISPATCH_LEASE_SECONDS
        self._stopped = threading.Event()
        self._renewed_at = time.monotonic()
        self._failed = False
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
        """True once a renewal failed or the last one is older than the lease."""
        # A margin of a renewal interval: stop claiming before others may take over.
        too_old = time.monotonic() - self._renewed_at > self.seconds - self.interval
        return self._failed or too_old

    @property
    def interval(self) -> float:
        return self.seconds / 3

    def _keep_renewing(self) -> None:
        try:
            while not self._stopped.wait(self.interval):
                if not self._renew():
                    self._failed = True
                    return
        finally:
            connection.close()  # this thread's own connection

    def _renew(self) -> bool:
        try:
            renewed = DispatchRun.objects.filter(pk=self.run_id).update(
                lease_expires_at=timezone.now() + lease_expiry()
            )
        except Exception:
            logger.exception(
                "dispatch run %s could not renew its lease; it stops claiming", self.run_id
            )
            return False
        if renewed != 1:
            logger.error("dispatch run %s has lost its row; it stops claiming", self.run_id)
            return False
        self._renewed_at = time.monotonic()
        return True
