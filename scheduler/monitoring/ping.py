"""Dead man's switch: tell an outside monitor (healthchecks.io style) that runs happen.

A run pings `<HEALTHCHECK_PING_URL>/start` when it begins, the URL itself when
it finished without error and `<url>/fail` otherwise. Pings go out from a
thread of their own, in order, so a run never waits for one: each gets
`HEALTHCHECK_PING_TIMEOUT_SECONDS` for the whole exchange, its answer's body is
never read and redirects are not followed. A process that exits gives the
pings still on their way that long to leave. The URL is a secret (anyone
holding it can ping), so it is never logged.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass

from django.conf import settings

from scheduler import bounded_http
from scheduler.models import DispatchRun

logger = logging.getLogger(__name__)

START, SUCCESS, FAIL = "/start", "", "/fail"
# Pings waiting behind a slow one; past this the monitor is down and more would not help.
MAX_WAITING = 10


@dataclass(frozen=True)
class Ping:
    url: str
    label: str  # what the log says instead of the URL
    deadline_seconds: float


def send(ping: Ping) -> bool:
    """One ping, within its deadline; never raises."""
    try:
        reply = bounded_http.request("POST", ping.url, deadline_seconds=ping.deadline_seconds)
    except Exception as exc:
        reason = str(exc) if isinstance(exc, bounded_http.RequestFailed) else type(exc).__name__
        logger.warning("health check ping %s failed: %s", ping.label, reason)
        return False
    if not 200 <= reply.status < 300:
        logger.warning("health check ping %s answered HTTP %s", ping.label, reply.status)
        return False
    return True


class Sender:
    """One thread that sends the pings handed to it, oldest first, and then waits for more.

    In order, so that a monitor never hears a run finish before it heard it start.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._waiting: deque[Ping] = deque()
        self._sending: Ping | None = None
        self._thread: threading.Thread | None = None

    def submit(self, ping: Ping) -> None:
        with self._changed:
            if len(self._waiting) >= MAX_WAITING:
                logger.warning(
                    "health check ping %s dropped: the monitor is not answering", ping.label
                )
                return
            self._waiting.append(ping)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._work, name="healthcheck-ping", daemon=True
                )
                self._thread.start()
            self._changed.notify_all()

    def drain(self) -> bool:
        """Wait until every ping handed over has been sent or given up (each within its deadline)."""
        with self._changed:
            pending = [*self._waiting, *([self._sending] if self._sending else [])]
            limit = time.monotonic() + sum(p.deadline_seconds for p in pending) + 1.0
            while self._waiting or self._sending:
                left = limit - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True

    def _work(self) -> None:
        while True:
            with self._changed:
                while not self._waiting:
                    self._changed.wait()
                next_ping = self._sending = self._waiting.popleft()
            try:
                send(next_ping)
            finally:
                with self._changed:
                    self._sending = None
                    self._changed.notify_all()


sender = Sender()


def _new_sender_in_child() -> None:
    # A forked worker inherits the object but not the thread (nor a usable lock).
    global sender
    sender = Sender()


os.register_at_fork(after_in_child=_new_sender_in_child)


def ping(suffix: str) -> bool:
    """Hand a ping to the sender; False when no URL is configured."""
    base = settings.HEALTHCHECK_PING_URL
    if not base:
        return False
    label = suffix.lstrip("/") or "success"
    sender.submit(Ping(base + suffix, label, settings.HEALTHCHECK_PING_TIMEOUT_SECONDS))
    return True


def run_started() -> None:
    try:
        ping(START)
    except Exception:
        logger.exception("health check ping failed")


def run_finished(run: DispatchRun) -> None:
    try:
        ping(FAIL if run.error else SUCCESS)
    except Exception:
        logger.exception("health check ping failed")


def wait_for_pings() -> bool:
    """Wait for the pings on their way, each at most its deadline (tests; exit does it too)."""
    return sender.drain()


# The sender's thread is a daemon, so it would die with the process: a command
# that ends right after its run gives the last pings their deadline to leave.
atexit.register(wait_for_pings)
