"""A dispatch run's lifecycle: claiming, then draining, then stopped, and why it stopped claiming.

While claiming, the run claims a batch whenever the send pool has room. Once
it stops claiming (everything due is claimed, or a reason to stop came up) it
drains: the sends in flight land and are recorded. Then it has stopped, and
the claims it never sent are given back. A reason seen later outranks a
milder one seen earlier, so the run's row names the most serious.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import Enum, IntEnum


class Phase(Enum):
    CLAIMING = "claiming"
    DRAINING = "draining"  # nothing more is claimed; what is in flight lands and is recorded
    STOPPED = "stopped"


class Why(IntEnum):
    """Why a run stopped claiming; a larger value outranks a smaller one."""

    ALL_CLAIMED = 0  # nothing left to evaluate: the normal end
    SHUTDOWN = 1  # the stop signal (SIGTERM, the cluster stopping)
    DEADLINE = 2  # DISPATCH_RUN_DEADLINE_SECONDS passed
    DATABASE = 3  # reading or claiming the next batch failed: raised once drained
    LEASE_LOST = 4  # past the lease another run may own what this one would claim
    MISCONFIGURED = 5  # the push backend's configuration is wrong: every send would fail


STOPPED_EARLY = "Stopped early (deadline or shutdown); the rest stays due for the next run."
# What the run's row says when it stopped claiming early; a failed database
# is told by its exception, a misconfigured backend by the backend's words.
ERRORS = {
    Why.SHUTDOWN: STOPPED_EARLY,
    Why.DEADLINE: STOPPED_EARLY,
    Why.LEASE_LOST: "Could not renew the run's lease; stopped claiming, the rest stays due.",
}


@dataclass
class Lifecycle:
    phase: Phase = Phase.CLAIMING
    why: Why | None = None
    # When a reason to stop early first came up (time.monotonic()).
    stopping_since: float | None = None
    # With Why.DATABASE: what is in flight still lands and is recorded, then this is raised.
    failure: Exception | None = None

    @property
    def claiming(self) -> bool:
        return self.phase is Phase.CLAIMING

    @property
    def stopped_early(self) -> bool:
        return self.why is not None and self.why is not Why.ALL_CLAIMED

    def stop_claiming(self, why: Why) -> None:
        if self.why is None or why > self.why:
            self.why = why
        if why is not Why.ALL_CLAIMED and self.stopping_since is None:
            self.stopping_since = time.monotonic()
        if self.phase is Phase.CLAIMING:
            self.phase = Phase.DRAINING

    def fail(self, exc: Exception) -> None:
        self.failure = exc
        self.stop_claiming(Why.DATABASE)

    def seconds_stopping(self) -> float:
        """How long ago a reason to stop early came up; 0 when none did."""
        if self.stopping_since is None:
            return 0.0
        return time.monotonic() - self.stopping_since

    def stop(self) -> None:
        self.phase = Phase.STOPPED
