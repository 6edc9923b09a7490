"""A coordinator, in Norwegian, reads a scenario's figures and its weekly chart in Chromium."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from scheduler.models import PromptHistory, PromptStatus
from tests import factories
from tests.admin.conftest import PASSWORD, make_coordinator
from tests.browser.conftest import ARTIFACTS

pytestmark = [pytest.mark.browser]


def test_it_shows_a_coordinator_the_figures_and_the_chart(
    browser: Any,
    live_server: Any,
    transactional_db: None,
) -> None:
    oslo = factories.chapter("Oslo")
    make_coordinator("kari", oslo)
    scenario = factories.scenario(name="Sjekk inn", chapter=None)
    when = timezone.now() - timedelta(days=2)
    for index in range(4):
        mentor = factories.mentor(oslo)
        trigger = factories.activity(mentor, contact_ref=f"K{index}", days_ago=5)
        PromptHistory.objects.create(
            peer_mentor=mentor,
            scenario=scenario,
            activity=trigger,
            status=PromptStatus.DISPATCHED,
            created_at=when,
            dispatched_at=when,
            opened_at=when if index < 3 else None,
        )
    context = browser.new_context(locale="nb-NO", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(5000)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", "kari")
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(f"{live_server.url}/admin/")
        page.goto(f"{live_server.url}/admin/scheduler/scenario/")
        assert "3 av 4, 75 %" in page.locator("#result_list").inner_text()
        page.goto(f"{live_server.url}/admin/scheduler/scenario/{scenario.pk}/change/")
        chart = page.locator("#scenario-report-chart svg")
        assert "4 sendt, 3 åpnet, 0 fulgt opp" in chart.get_attribute("aria-label")
        assert chart.bounding_box()["height"] > 50
        page.screenshot(path=str(ARTIFACTS / "scenario-report-chart.png"))
    finally:
        context.close()
