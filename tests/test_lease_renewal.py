"""A run's lease: renewed on its own thread, tried again after a failure, lost for good past its margin."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from scheduler.dispatch.lease import Lease
from scheduler.models import DispatchRun
from tests.lease_triggers import allow_renewals, renewals_spoiled
from tests.reliability.children import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

# Every third of a 3 s lease it is renewed; it is lost 2 s after the last renewal.
LEASE_SECONDS = 3


@pytest.fixture
def run(settings) -> DispatchRun:  # type: ignore[no-untyped-def]
    settings.DISPATCH_LEASE_SECONDS = LEASE_SECONDS
    return DispatchRun.objects.create(
        started_at=timezone.now(),
        lease_expires_at=timezone.now() + timedelta(seconds=LEASE_SECONDS),
    )


def lease_expiry_of(run: DispatchRun) -> object:
    return DispatchRun.objects.values_list("lease_expires_at", flat=True).get(pk=run.pk)


def refusals(caplog: pytest.LogCaptureFixture) -> int:
    return sum("could not renew its lease; trying again" in r.getMessage() for r in caplog.records)


def test_it_moves_the_lease_forward_while_the_run_lives(run: DispatchRun) -> None:
    first_expiry = lease_expiry_of(run)
    with Lease(run) as lease:
        assert wait_until(lambda: lease_expiry_of(run) != first_expiry, timeout=5)
        assert not lease.lost
    assert lease_expiry_of(run) > first_expiry  # type: ignore[operator]


def test_it_tries_again_after_a_failed_renewal_and_keeps_the_lease(
    run: DispatchRun, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="scheduler.dispatch.lease")
    first_expiry = lease_expiry_of(run)
    with renewals_spoiled(), Lease(run) as lease:
        assert wait_until(lambda: refusals(caplog) >= 1, timeout=5)
        allow_renewals()  # the connection comes back well within the margin
        assert wait_until(lambda: lease_expiry_of(run) != first_expiry, timeout=5)
        assert not lease.lost


def test_it_is_lost_for_good_when_renewals_fail_past_its_margin(
    run: DispatchRun, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="scheduler.dispatch.lease")
    started = time.monotonic()
    with renewals_spoiled(), Lease(run) as lease:
        assert wait_until(lambda: lease.lost, timeout=10)
        lost_after = time.monotonic() - started
        allow_renewals()
        time.sleep(LEASE_SECONDS / 2)  # a renewal now would land too late
        assert lease.lost

    # Renewal was tried more than once before giving up, within the lease itself.
    assert refusals(caplog) >= 2
    assert LEASE_SECONDS * 2 / 3 <= lost_after < LEASE_SECONDS
    assert any("it stops claiming" in r.getMessage() for r in caplog.records)


def test_it_is_lost_once_the_runs_row_is_gone(
    run: DispatchRun, caplog: pytest.LogCaptureFixture
) -> None:
    DispatchRun.objects.filter(pk=run.pk).delete()
    with Lease(run) as lease:
        assert wait_until(lambda: lease.lost, timeout=10)
    assert any("has lost its row" in r.getMessage() for r in caplog.records)
