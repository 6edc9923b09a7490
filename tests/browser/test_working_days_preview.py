"""A coordinator, in Norwegian, creates a working-days scenario and sees Easter in its preview."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from dateutil.easter import easter
from django.utils import formats, timezone, translation

from scheduler.models import Chapter, DelayUnit, Scenario
from tests import factories
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_coordinator_flow import page, wait_for_sentence  # noqa: F401

pytestmark = [pytest.mark.browser]


def next_easter_wednesday() -> date:
    """The Wednesday before the next Easter still ahead, so the preview has it to come."""
    year = timezone.localdate().year
    while (wednesday := easter(year) - timedelta(days=4)) <= timezone.localdate() + timedelta(
        days=1
    ):
        year += 1
    return wednesday


def test_it_shows_easter_in_the_preview_of_a_working_days_scenario(page: Any) -> None:  # noqa: F811
    wednesday = next_easter_wednesday()
    tuesday = wednesday + timedelta(days=6)
    # A first contact logged on that Wednesday, by a mentor of the coordinator's chapter.
    mentor = factories.mentor(Chapter.objects.get(name="Oslo"), name="Kari Nordmann")
    factories.activity(
        mentor, occurred_at=timezone.make_aware(datetime.combine(wednesday, time(10)))
    )

    page.goto(f"{page.base_url}/admin/scheduler/scenario/add/")
    assert page.input_value("#id_delay_unit") == DelayUnit.WORKING_DAYS
    page.fill("#id_name", "Sjekk inn etter én virkedag")
    page.fill("#id_delay_days", "1")
    wait_for_sentence(page, "Send 1 virkedag etter førstekontakt")
    page.fill("#id_title", "Hvordan gikk det?")
    page.fill("#id_body", "Ta gjerne en prat igjen.")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    assert Scenario.objects.get().delay_unit == DelayUnit.WORKING_DAYS

    page.click("text=Forhåndsvis")
    page.fill("#id_sim-occurred_at_0", wednesday.strftime("%d.%m.%Y"))
    page.fill("#id_sim-occurred_at_1", "10:00")
    page.click("#simulation-form input[type=submit]")
    result = page.wait_for_selector("#simulation-result").text_content()
    with translation.override("nb"):
        day = formats.date_format(tuesday, "l j. F")
    assert f"Venter til {day}: skjærtorsdag, langfredag og andre påskedag er fri." in result

    page.fill("#id_dry-at_0", tuesday.strftime("%d.%m.%Y"))
    page.fill("#id_dry-at_1", "10:00")
    page.click("#dry-run-form input[type=submit]")
    dry_run = page.wait_for_selector("#dry-run-result").text_content()
    assert "Som om det var" in dry_run
    assert "Kari Nordmann" in dry_run
    page.screenshot(path=ARTIFACTS / "preview-working-days-easter.png", full_page=True)
