"""Fail a test that hangs instead of letting it hang: for code that must not wait on a server.

Not a timing assertion: the limit is far above what the code under test needs, and
only turns an endless wait into a failure with a message.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class Hung(BaseException):
    """A BaseException, so that code catching every Exception cannot swallow it."""


@contextmanager
def fails_if_hung(seconds: float, what: str) -> Iterator[None]:
    """Raise Hung in the main thread if the block is still running after `seconds`."""

    def hung(signum: int, frame: FrameType | None) -> None:
        raise Hung(f"{what} was still waiting after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
