"""What the benchmark takes for its own data before it wipes the scheduler tables."""

from __future__ import annotations

import pytest

from bench import dataset
from scheduler.models import DispatchRun
from tests import factories

pytestmark = pytest.mark.django_db


def test_it_takes_runs_started_by_a_command_over_its_tagged_data_for_its_own() -> None:
    chapter = factories.chapter(name=f"{dataset.TAG}chapter 0")
    factories.scenario(name=f"{dataset.TAG}dispatch", chapter=chapter)
    DispatchRun.objects.create(trigger=DispatchRun.Trigger.COMMAND)

    assert dataset.foreign_data() == []


@pytest.mark.parametrize("trigger", [DispatchRun.Trigger.SCHEDULE, DispatchRun.Trigger.ADMIN])
def test_it_refuses_runs_the_schedule_or_the_admin_started(trigger: str) -> None:
    DispatchRun.objects.create(trigger=trigger)

    assert dataset.foreign_data() == ["dispatch runs"]


def test_it_refuses_data_outside_its_tag() -> None:
    factories.scenario(name="Oslo: three days after a first contact")

    assert dataset.foreign_data() == ["scenarios"]
