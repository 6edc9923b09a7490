from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from scheduler.coordinators.report import scenario_report
from scheduler.models import PeerMentor, Scenario
from tests import factories
from tests.admin.conftest import make_coordinator


def sent(mentor: PeerMentor, scenario: Scenario, *, opened: bool = False) -> None:
    now = timezone.now() - timedelta(days=2)
    factories.prompt(
        scenario,
        factories.activity(mentor),
        created_at=now,
        dispatched_at=now,
        opened_at=now if opened else None,
    )


@pytest.mark.django_db
def test_it_shows_a_coordinator_only_their_chapters_mentors_even_for_everyones_scenarios() -> None:
    oslo, bergen = factories.chapter("Oslo"), factories.chapter("Bergen")
    everyone = factories.scenario(name="Everyone", chapter=None)
    bergen_only = factories.scenario(name="Bergen only", chapter=bergen)
    sent(factories.mentor(oslo), everyone, opened=True)
    for _ in range(3):
        sent(factories.mentor(bergen), everyone)
    sent(factories.mentor(bergen), bergen_only)
    kari = make_coordinator("kari", oslo)

    rows = {row.name: row.figures for row in scenario_report(kari, days=30)}

    assert set(rows) == {"Everyone"}
    assert (rows["Everyone"].sent, rows["Everyone"].opened) == (1, 1)
    everything = {row.name: row.figures.sent for row in scenario_report(None, days=30)}
    assert everything == {"Everyone": 4, "Bergen only": 1}


@pytest.mark.django_db
def test_it_prints_only_one_json_list_on_stdout() -> None:
    scenario = factories.scenario(name="Sjekk inn")
    sent(factories.mentor(), scenario, opened=True)
    out, err = StringIO(), StringIO()
    call_command("scenario_report", "--json", "--days", "7", stdout=out, stderr=err)
    data = json.loads(out.getvalue())
    assert data == [
        {
            "scenario_id": scenario.pk,
            "name": "Sjekk inn",
            "sent": 1,
            "opened": 1,
            "followed_up": 0,
            "median_follow_up_hours": None,
            "escalated": 0,
        }
    ]
    assert err.getvalue() == ""


@pytest.mark.django_db
def test_it_prints_rates_with_their_counts_and_no_bar_off_a_terminal() -> None:
    scenario = factories.scenario(name="Sjekk inn")
    sent(factories.mentor(), scenario, opened=True)
    sent(factories.mentor(), scenario)
    out, err = StringIO(), StringIO()
    call_command("scenario_report", stdout=out, stderr=err)
    assert "Sjekk inn" in out.getvalue()
    assert "1 of 2, 50 %" in out.getvalue() or "1 av 2, 50 %" in out.getvalue()
    assert err.getvalue() == ""


@pytest.mark.django_db
def test_it_refuses_a_period_below_one_day() -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--days"):
        call_command("scenario_report", "--days", "0")


@pytest.mark.django_db
def test_it_shows_zeros_to_a_coordinator_without_chapters_and_on_an_empty_page() -> None:
    scenario = factories.scenario(chapter=None)
    sent(factories.mentor(), scenario)
    nobody = make_coordinator("nobody")
    [row] = scenario_report(nobody, days=30)
    assert row.figures.sent == 0
    assert scenario_report(None, days=30, scenario_ids=[]) == []
