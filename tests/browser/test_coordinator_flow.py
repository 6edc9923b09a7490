"""A coordinator, in Norwegian, creates a scenario and previews it in Chromium."""

from __future__ import annotations

from typing import Any

import pytest

from scheduler.models import Scenario
from tests import factories
from tests.admin.conftest import PASSWORD, make_coordinator
from tests.browser.conftest import ARTIFACTS

pytestmark = [pytest.mark.browser]

SENTENCE = "#scenario-sentence"


@pytest.fixture
def page(browser: Any, live_server: Any, transactional_db: None) -> Any:
    oslo = factories.chapter("Oslo")
    make_coordinator("kari", oslo)
    mentor = factories.mentor(oslo, name="Ola Hansen")
    factories.activity(mentor, days_ago=0.2, wellbeing_concern=True)
    context = browser.new_context(locale="nb-NO", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(5000)
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "kari")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    page.base_url = live_server.url  # type: ignore[attr-defined]
    yield page
    context.close()


def wait_for_sentence(page: Any, contains: str, present: bool = True) -> str:
    page.wait_for_function(
        "([sel, text, want]) => document.querySelector(sel).textContent.includes(text) === want",
        arg=[SENTENCE, contains, present],
    )
    return page.text_content(SENTENCE)


def test_it_creates_and_previews_a_scenario(page: Any) -> None:
    page.goto(f"{page.base_url}/admin/scheduler/scenario/add/")
    page.fill("#id_name", "Sjekk inn samme dag")
    page.fill("#id_delay_days", "0")
    page.select_option("#id_delay_unit", "days")  # a new scenario offers working days
    wait_for_sentence(page, "Send rett etter førstekontakt")
    page.check("#id_requires_wellbeing_concern")
    wait_for_sentence(page, "hvis en bekymring for trivsel ble meldt")
    page.uncheck("#id_skip_if_followed_up")
    sentence = wait_for_sentence(page, "med mindre", present=False)
    assert sentence == (
        "Send rett etter førstekontakt, hvis en bekymring for trivsel ble meldt, "
        "for likepersoner i Oslo, høyst 7 dager for sent."
    )
    page.fill("#id_title", "Hvordan gikk det?")
    page.fill("#id_body", "Ta gjerne en prat igjen.")
    page.screenshot(path=ARTIFACTS / "scenario-form.png", full_page=True)
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    assert Scenario.objects.get().delay_days == 0

    page.click("text=Forhåndsvis")
    page.wait_for_selector("#simulation-form")
    page.check("#id_sim-wellbeing_concern")
    page.click("#simulation-form input[type=submit]")
    result = page.wait_for_selector("#simulation-result")
    assert "Ville blitt sendt" in result.text_content()
    assert "Hvordan gikk det?" in result.text_content()
    page.screenshot(path=ARTIFACTS / "preview-simulation.png", full_page=True)

    page.click("#dry-run-form input[type=submit]")
    dry_run = page.wait_for_selector("#dry-run-result")
    assert "Ola Hansen" in dry_run.text_content()
    assert page.is_visible("#simulation-result")  # the first preview is kept
    page.screenshot(path=ARTIFACTS / "preview-dry-run.png", full_page=True)
