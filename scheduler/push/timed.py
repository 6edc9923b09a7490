"""Each push request's latency for Prometheus, from a wrapper around the configured backend."""

from __future__ import annotations

import logging
import time

from scheduler.monitoring.metrics import PUSH_LATENCY
from scheduler.push.base import BasePushBackend, PushMessage, SendOutcome

logger = logging.getLogger(__name__)


class TimedBackend(BasePushBackend):
    """Wraps a push backend to time each request; everything else is the inner backend's."""

    def __init__(self, inner: BasePushBackend) -> None:
        super().__init__(concurrency=inner.concurrency)
        self.inner = inner
        self.label = type(inner).__name__

    def open(self) -> None:
        self.inner.open()

    def close(self) -> None:
        self.inner.close()

    def send(self, message: PushMessage) -> SendOutcome:
        started = time.perf_counter()
        outcome = "error"
        try:
            result = self.inner.send(message)
            outcome = str(result.delivery)
            return result
        finally:
            self._observe(outcome, time.perf_counter() - started)

    def _observe(self, outcome: str, seconds: float) -> None:
        try:
            PUSH_LATENCY.labels(backend=self.label, outcome=outcome).observe(seconds)
        except Exception:
            logger.exception("could not record a push request's latency")


def timed(backend: BasePushBackend) -> BasePushBackend:
    try:
        return TimedBackend(backend)
    except Exception:
        logger.exception("push latency is not recorded")
        return backend
