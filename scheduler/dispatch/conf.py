"""The settings of one dispatch run, read once as it starts (as django-q2's `Conf` is).

Every part of the run (the loop, the send pool, the ledger, the lease) works
with the values the run started with, from one place. The delivery policy's
settings (quiet hours, retry backoff) stay with `policy`, which the admin's
explanations share.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class DispatchConf:
    concurrency: int  # DISPATCH_CONCURRENCY: requests in flight at most
    batch_size: int  # DISPATCH_BATCH_SIZE: prompts claimed at a time, results recorded at a time
    max_attempts: int  # DISPATCH_MAX_ATTEMPTS: a prompt's sends before it has failed
    daily_cap: int  # MAX_PROMPTS_PER_MENTOR_PER_DAY, 0 = no cap
    lease_seconds: int  # DISPATCH_LEASE_SECONDS
    run_deadline_seconds: float  # DISPATCH_RUN_DEADLINE_SECONDS: no claim after it
    # PUSH_REQUEST_DEADLINE_SECONDS: how long after a stop the sends in flight may still land.
    request_deadline_seconds: float

    @classmethod
    def from_settings(cls) -> DispatchConf:
        return cls(
            concurrency=settings.DISPATCH_CONCURRENCY,
            batch_size=settings.DISPATCH_BATCH_SIZE,
            max_attempts=settings.DISPATCH_MAX_ATTEMPTS,
            daily_cap=settings.MAX_PROMPTS_PER_MENTOR_PER_DAY,
            lease_seconds=settings.DISPATCH_LEASE_SECONDS,
            run_deadline_seconds=settings.DISPATCH_RUN_DEADLINE_SECONDS,
            request_deadline_seconds=settings.PUSH_REQUEST_DEADLINE_SECONDS,
        )
