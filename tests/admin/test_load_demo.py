"""load_demo creates a login with a published password: only where that is safe."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from scheduler.models import ClosedPeriod, DelayUnit, Scenario


def test_it_refuses_to_run_with_debug_off(db: None, settings: object) -> None:
    settings.DEBUG = False  # type: ignore[attr-defined]
    with pytest.raises(CommandError, match="--yes-demo-data-in-production"):
        call_command("load_demo")
    assert not User.objects.filter(username="koordinator").exists()
    assert not Scenario.objects.exists()


def test_it_loads_with_debug_on(db: None, settings: object) -> None:
    settings.DEBUG = True  # type: ignore[attr-defined]
    call_command("load_demo", stdout=StringIO())
    assert User.objects.get(username="koordinator").check_password("demo-coordinator")


def test_it_loads_with_debug_off_when_told_to(db: None, settings: object) -> None:
    settings.DEBUG = False  # type: ignore[attr-defined]
    call_command("load_demo", "--yes-demo-data-in-production", stdout=StringIO())
    assert User.objects.filter(username="koordinator").exists()
    assert Scenario.objects.count() == 3


def test_it_shows_working_days_and_a_christmas_closure_and_stays_idempotent(
    db: None, settings: object
) -> None:
    settings.DEBUG = True  # type: ignore[attr-defined]
    call_command("load_demo", stdout=StringIO())
    call_command("load_demo", stdout=StringIO())

    concern = Scenario.objects.get(name="Sjekk inn etter bekymring")
    assert concern.delay_unit == DelayUnit.WORKING_DAYS
    assert concern.escalate_after_days == 5
    closures = ClosedPeriod.objects.filter(chapter=None, name__startswith="Juleferie")
    assert closures.count() == 2
    assert all(
        (c.first_day.month, c.first_day.day, c.last_day.day) == (12, 24, 31) for c in closures
    )
