"""Working days in the admin: the sentence, why / why not, closed periods, the form, the preview."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import translation

from scheduler.checks import check_working_day_calendars
from scheduler.coordinators import explain
from scheduler.models import ClosedPeriod, DelayUnit, Scenario
from scheduler.rules import describe
from tests import factories
from tests.admin.conftest import World
from tests.admin.test_scenarios import form_data
from tests.workdays.oracle import OSLO

EASTER_WEDNESDAY = datetime(2026, 4, 1, 10, 0, tzinfo=OSLO)
CLOSED_ADD = reverse("admin:scheduler_closedperiod_add")
SCENARIO_ADD = reverse("admin:scheduler_scenario_add")


@pytest.fixture
def scenario(world: World) -> Scenario:
    return factories.scenario(
        chapter=world.home, delay_days=1, delay_unit=DelayUnit.WORKING_DAYS, lookback_days=7
    )


def test_it_says_working_days_in_the_sentence_in_both_languages(scenario: Scenario) -> None:
    scenario.delay_days = 3
    assert describe(scenario).startswith("Send 3 working days after a first contact")
    with translation.override("nb"):
        assert describe(scenario).startswith("Send 3 virkedager etter førstekontakt")


def test_it_names_the_day_and_the_holidays_that_moved_it(world: World, scenario: Scenario) -> None:
    activity = factories.activity(factories.mentor(world.home), occurred_at=EASTER_WEDNESDAY)
    now = datetime(2026, 4, 2, 12, 0, tzinfo=OSLO)

    with translation.override("nb"):
        (verdict,) = explain.explain(activity, [scenario], now)
    assert verdict.state == explain.DUE_LATER
    assert verdict.due_at == datetime(2026, 4, 7, 10, 0, tzinfo=OSLO)
    assert verdict.moved == (
        "venter til tirsdag 7. april: skjærtorsdag, langfredag og andre påskedag er fri"
    )
    assert "Venter til tirsdag 7. april" in verdict.message

    (english,) = explain.explain(activity, [scenario], now)
    assert english.moved == (
        "waits until Tuesday 7 April: Maundy Thursday, Good Friday and Easter Monday are days off"
    )


def test_it_names_a_closed_period_of_the_chapter(world: World, scenario: Scenario) -> None:
    ClosedPeriod.objects.create(
        name="Sommerstengt",
        first_day=date(2026, 7, 6),
        last_day=date(2026, 7, 10),
        chapter=world.home,
    )
    activity = factories.activity(
        factories.mentor(world.home), occurred_at=datetime(2026, 7, 3, 9, 0, tzinfo=OSLO)
    )
    (verdict,) = explain.explain(activity, [scenario], datetime(2026, 7, 13, 9, 0, tzinfo=OSLO))
    assert verdict.state == explain.DUE_NOW
    assert verdict.moved == "waits until Monday 13 July: Sommerstengt is a day off"


def test_it_says_nothing_moved_it_over_a_plain_weekend(world: World, scenario: Scenario) -> None:
    friday = datetime(2026, 3, 27, 10, 0, tzinfo=OSLO)
    activity = factories.activity(factories.mentor(world.home), occurred_at=friday)
    (verdict,) = explain.explain(activity, [scenario], friday + timedelta(days=1))
    assert verdict.due_at == datetime(2026, 3, 30, 10, 0, tzinfo=OSLO)
    assert verdict.moved == ""


def closed_for_two_years(chapter: object) -> None:
    for first in (date(2026, 1, 1), date(2027, 1, 2)):
        ClosedPeriod.objects.create(
            name="Stengt", first_day=first, last_day=first + timedelta(days=365), chapter=chapter
        )


def test_it_answers_a_calendar_without_working_days_without_looping(
    world: World, scenario: Scenario
) -> None:
    closed_for_two_years(world.home)
    activity = factories.activity(factories.mentor(world.home), occurred_at=EASTER_WEDNESDAY)

    (verdict,) = explain.explain(activity, [scenario], EASTER_WEDNESDAY + timedelta(days=9))
    out = StringIO()
    call_command(
        "run_dispatch", "--dry-run", "--at", "2026-04-10T10:00+02:00", stdout=out, stderr=StringIO()
    )

    assert verdict.state == explain.NO
    assert "no working day within a year" in verdict.message
    assert "0 prompts would be sent" in out.getvalue()


def test_it_reports_a_calendar_without_working_days_as_a_system_check_error(world: World) -> None:
    assert check_working_day_calendars(databases=["default"]) == []
    with time_machine.travel(datetime(2026, 6, 1, 12, 0, tzinfo=OSLO)):
        closed_for_two_years(world.home)
        errors = check_working_day_calendars(databases=["default"])
    assert [e.id for e in errors] == ["scheduler.E020"]
    assert f"chapter {world.home.pk}" in errors[0].msg


def closed_form(world: World, **overrides: object) -> dict[str, object]:
    data = {
        "name": "Julestengt",
        "first_day": "2026-12-24",
        "last_day": "2026-12-31",
        "chapter": world.home.pk,
    }
    data.update(overrides)
    return data


def test_it_lets_a_coordinator_close_their_own_chapter(
    coordinator_client: Client, world: World
) -> None:
    assert coordinator_client.post(CLOSED_ADD, closed_form(world)).status_code == 302
    period = ClosedPeriod.objects.get()
    assert (period.chapter, period.first_day, period.last_day) == (
        world.home,
        date(2026, 12, 24),
        date(2026, 12, 31),
    )


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"last_day": "2026-12-01"}, "The last day cannot come before the first."),
        ({"last_day": "2027-12-25"}, "A closed period can be at most 366 days long."),
        ({"chapter": "other"}, "Select a valid choice."),
        ({"chapter": ""}, "This field is required."),
    ],
)
def test_it_refuses_a_closed_period_it_cannot_take(
    coordinator_client: Client, world: World, overrides: dict[str, object], error: str
) -> None:
    if overrides.get("chapter") == "other":
        overrides = {"chapter": world.other.pk}
    response = coordinator_client.post(CLOSED_ADD, closed_form(world, **overrides))
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not ClosedPeriod.objects.exists()


def test_it_keeps_closed_periods_of_every_chapter_read_only_for_coordinators(
    coordinator_client: Client, world: World
) -> None:
    everyone = ClosedPeriod.objects.create(
        name="Påske", first_day=date(2026, 4, 2), last_day=date(2026, 4, 6)
    )
    elsewhere = ClosedPeriod.objects.create(
        name="Bergen", first_day=date(2026, 4, 2), last_day=date(2026, 4, 6), chapter=world.other
    )
    change = reverse("admin:scheduler_closedperiod_change", args=[everyone.pk])
    assert coordinator_client.get(change).status_code == 200
    coordinator_client.post(change, closed_form(world, name="Endret", chapter=""))
    everyone.refresh_from_db()
    assert everyone.name == "Påske"
    other_page = reverse("admin:scheduler_closedperiod_change", args=[elsewhere.pk])
    assert coordinator_client.get(other_page).status_code == 404


def test_it_offers_working_days_for_a_new_scenario_and_keeps_the_unit_of_an_old_one(
    coordinator_client: Client, world: World
) -> None:
    page = coordinator_client.get(SCENARIO_ADD).content.decode()
    assert '<option value="working_days" selected>' in page
    coordinator_client.post(SCENARIO_ADD, form_data(world, delay_unit="working_days"))
    assert Scenario.objects.get().delay_unit == DelayUnit.WORKING_DAYS
    old = factories.scenario(chapter=world.home)
    assert old.delay_unit == DelayUnit.DAYS
    page = coordinator_client.get(
        reverse("admin:scheduler_scenario_change", args=[old.pk])
    ).content.decode()
    assert '<option value="days" selected>' in page


def test_it_refuses_a_working_day_delay_over_60(coordinator_client: Client, world: World) -> None:
    response = coordinator_client.post(
        SCENARIO_ADD, form_data(world, delay_unit="working_days", delay_days=61)
    )
    assert "A delay in working days can be at most 60." in response.content.decode()
    assert not Scenario.objects.exists()
    ok = coordinator_client.post(SCENARIO_ADD, form_data(world, delay_unit="days", delay_days=61))
    assert ok.status_code == 302


def test_it_previews_real_data_as_if_it_were_another_moment(
    coordinator_client: Client, world: World, scenario: Scenario
) -> None:
    factories.activity(factories.mentor(world.home), occurred_at=EASTER_WEDNESDAY)
    preview = reverse("admin:scheduler_scenario_preview", args=[scenario.pk])

    def due_total(at_date: str, at_time: str) -> str:
        query = {"dry-days": 7, "dry-at_0": at_date, "dry-at_1": at_time}
        return coordinator_client.get(preview, query).content.decode()

    maundy_thursday = due_total("2026-04-02", "12:00")
    tuesday = due_total("2026-04-07", "10:00")
    assert "0 prompts would be sent now." in maundy_thursday
    assert "1 prompt would be sent now." in tuesday
    assert "As if it were" in tuesday
