"""The admin as a Norwegian coordinator meets it: Chromium, 1280 px, the menu open, demo data."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import Schedule
from django_q.scheduler import scheduler

from scheduler.dispatch.schedule import SCHEDULE_NAME, sync_dispatch_schedule
from scheduler.models import DispatchRun, PromptHistory, PromptStatus, Scenario
from tests.admin.conftest import coordinator_group
from tests.browser.conftest import ARTIFACTS

pytestmark = [pytest.mark.browser]

WIDTH = 1280
LISTS = ["scenario", "activity", "prompthistory", "dispatchrun", "peermentor"]
# English a Norwegian coordinator must never read: Django's own admin words, the
# project's, and those of the widgets and forms a coordinator uses.
ENGLISH = [
    "Start typing to filter",
    "Show counts",
    "Hide counts",
    "Skip to main content",
    "Toggle theme",
    "Please correct the error",
    "Peer mentor",
    "Activity:",
    "Run:",
    "Breadcrumbs",
    "Sidebar",
    "Select all objects",
    "Select this object",
    "Add link",
    "Preview",
    "Why / why not",
    "Run dispatch now",
    "Dispatch run",
    "Prompt history",
    "Follow-up prompts",
    "needs review",
    "every chapter",
    "sent (30 days)",
    "opened (30 days)",
    "followed up",
    "Choose a time",
    "Today",
    "Filter",
    "Show all",
    "Save and add another",
    "Legg til ny scenario",
]


@pytest.fixture
def demo(transactional_db: None) -> None:
    coordinator_group()
    call_command("load_demo", "--yes-demo-data-in-production", stdout=io.StringIO())
    doubtful = PromptHistory.objects.order_by("pk").first()
    assert doubtful is not None
    PromptHistory.objects.filter(pk=doubtful.pk).update(
        status=PromptStatus.FAILED, needs_review=True, title="=HYPERLINK(1)"
    )
    now = timezone.now()
    DispatchRun.objects.create(trigger="schedule", started_at=now, finished_at=now, dispatched=3)
    DispatchRun.objects.create(trigger="benchmark", started_at=now, finished_at=now)


@pytest.fixture
def page(browser: Any, live_server: Any, demo: None) -> Any:
    context = browser.new_context(
        locale="nb-NO", viewport={"width": WIDTH, "height": 900}, accept_downloads=True
    )
    context.set_default_timeout(8000)
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "koordinator")
    page.fill("#id_password", "demo-coordinator")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    page.base_url = live_server.url  # type: ignore[attr-defined]
    yield page
    context.close()


def list_url(page: Any, model: str) -> str:
    return f"{page.base_url}/admin/scheduler/{model}/"


def test_it_fits_every_list_in_a_1280_px_window_with_the_menu_open(page: Any) -> None:
    for model in LISTS:
        page.goto(list_url(page, model))
        assert page.is_visible("#nav-sidebar"), "the menu is open"
        sizes = page.evaluate(
            """() => {
                const table = document.querySelector('#result_list');
                const box = table.closest('.results');
                return {
                    page: document.documentElement.scrollWidth,
                    window: window.innerWidth,
                    table: table.getBoundingClientRect().right,
                    box: box.getBoundingClientRect().right,
                    overflow: box.scrollWidth - box.clientWidth,
                };
            }"""
        )
        assert sizes["page"] <= sizes["window"], (model, sizes)
        assert sizes["table"] <= sizes["box"] + 1, (model, sizes)
        assert sizes["overflow"] <= 0, (model, sizes)
        page.screenshot(path=ARTIFACTS / f"list-{model}-1280.png")


def visible_words(page: Any) -> str:
    """The page's text and the words of its attributes, without scripts and styles."""
    return page.evaluate(
        """() => {
            const copy = document.documentElement.cloneNode(true);
            copy.querySelectorAll('script, style, svg title').forEach(n => n.remove());
            const words = [copy.querySelector('body').textContent, document.title];
            for (const el of document.querySelectorAll('[placeholder], [title], [aria-label], input[type=submit]')) {
                for (const name of ['placeholder', 'title', 'aria-label', 'value']) {
                    if (el.getAttribute(name) && (name !== 'value' || el.type === 'submit')) {
                        words.push(el.getAttribute(name));
                    }
                }
            }
            return words.join('\\n');
        }"""
    )


def coordinator_pages(page: Any) -> list[str]:
    base = f"{page.base_url}/admin/"
    scenario = Scenario.objects.order_by("pk").first()
    prompt = PromptHistory.objects.filter(needs_review=True).first()
    assert scenario is not None and prompt is not None
    urls = [base, f"{base}scheduler/", f"{base}password_change/"]
    for model in LISTS:
        urls.append(list_url(page, model))
        page.goto(list_url(page, model))
        first = page.query_selector("#result_list tbody tr a")
        if first is not None:
            urls.append(page.base_url + first.get_attribute("href"))
    urls += [
        f"{base}scheduler/scenario/add/",
        f"{base}scheduler/activity/{prompt.activity_id}/why/",
        f"{base}scheduler/prompthistory/{prompt.pk}/change/",
        f"{base}scheduler/scenario/{scenario.pk}/preview/?dry-days=30",
        f"{base}scheduler/scenario/{scenario.pk}/history/",
        f"{base}scheduler/prompthistory/?status=sent",
    ]
    return urls


def test_it_shows_no_english_on_any_page_a_coordinator_opens(page: Any) -> None:
    found = {}
    for url in coordinator_pages(page):
        page.goto(url)
        words = visible_words(page)
        english = [text for text in ENGLISH if text in words]
        if english:
            found[url] = english
    # A form with an error, and the preview with its test activity.
    page.goto(f"{page.base_url}/admin/scheduler/scenario/add/")
    page.click("input[name=_save]")
    page.wait_for_selector(".errornote")
    found_here = [text for text in ENGLISH if text in visible_words(page)]
    if found_here:
        found["scenario form with an error"] = found_here
    scenario = Scenario.objects.order_by("pk").first()
    assert scenario is not None
    page.goto(f"{page.base_url}/admin/scheduler/scenario/{scenario.pk}/preview/")
    page.click("#simulation-form input[type=submit]")
    page.wait_for_selector("#simulation-result")
    assert page.is_visible("#simulation .datetimeshortcuts .date-icon")
    assert page.is_visible("#simulation .datetimeshortcuts .clock-icon")
    found_here = [text for text in ENGLISH if text in visible_words(page)]
    if found_here:
        found["preview with a test activity"] = found_here
    assert found == {}


def test_it_warns_of_a_duplicate_rule_and_still_saves(page: Any) -> None:
    original = Scenario.objects.get(name="Sjekk inn etter bekymring")
    page.goto(f"{page.base_url}/admin/scheduler/scenario/add/")
    page.fill("#id_name", "Sjekk inn igjen")
    page.select_option("#id_trigger_kind", original.trigger_kind)
    page.fill("#id_delay_days", str(original.delay_days))
    page.select_option("#id_delay_unit", original.delay_unit)
    page.set_checked("#id_requires_wellbeing_concern", original.requires_wellbeing_concern)
    page.set_checked("#id_skip_if_followed_up", original.skip_if_followed_up)
    page.fill("#id_title", "Hei")
    page.fill("#id_body", "Hvordan går det?")
    assert page.is_hidden("#duplicate-warning")
    page.check("#id_is_enabled")
    page.wait_for_selector("#duplicate-warning", state="visible")
    warning = page.text_content("#duplicate-warning")
    assert "«Sjekk inn etter bekymring»" in warning or "“Sjekk inn etter bekymring”" in warning
    assert "to påminnelser for én aktivitet" in warning
    page.screenshot(path=ARTIFACTS / "duplicate-rule-warning.png")
    page.click("input[name=_save]")
    message = page.wait_for_selector(".messagelist .warning")
    assert "Sjekk inn etter bekymring" in message.text_content()
    assert Scenario.objects.filter(name="Sjekk inn igjen", is_enabled=True).exists()


def test_it_exports_a_csv_that_norwegian_excel_reads(page: Any) -> None:
    page.goto(list_url(page, "prompthistory"))
    page.check("#action-toggle")
    page.select_option("select[name=action]", "export_csv")
    with page.expect_download() as download:
        page.click("button[name=index]")
    body = download.value.path().read_bytes()
    # What Excel checks: the byte order mark says UTF-8, the separator is the semicolon.
    assert body.startswith(b"\xef\xbb\xbf")
    text = body.decode("utf-8-sig")
    dialect = csv.Sniffer().sniff(text.splitlines()[0], delimiters=";,")
    assert dialect.delimiter == ";"
    header, *rows = csv.reader(io.StringIO(text), delimiter=";")
    assert header[1:5] == ["opprettet", "klar", "sendt", "status"]
    titles = {row[11] for row in rows}
    assert "'=HYPERLINK(1)" in titles and "=HYPERLINK(1)" not in titles
    assert {row[6] for row in rows} <= {"ja", "nei"}
    assert "sendt" in {row[4] for row in rows}


def run_now(page: Any) -> str:
    page.goto(list_url(page, "dispatchrun"))
    page.click("#run-now-form button")
    return page.wait_for_selector(".messagelist li:not(#scheduler-health-banner)").text_content()


def test_it_says_sending_is_stopped_when_no_cluster_runs(page: Any, settings: Any) -> None:
    settings.DISPATCH_RUN_NOW_IN_BACKGROUND = True
    sync_dispatch_schedule()
    # A cluster's scheduler would have moved the next run past now long ago.
    Schedule.objects.filter(name=SCHEDULE_NAME).update(
        next_run=timezone.now() - timedelta(minutes=10)
    )
    message = run_now(page)
    assert "står stille" in message and "Si fra til" in message
    assert "starter om noen sekunder" not in message
    assert "qcluster" not in message
    page.screenshot(path=ARTIFACTS / "run-now-cluster-down.png")


def test_it_says_the_run_starts_shortly_when_a_cluster_runs(page: Any, settings: Any) -> None:
    settings.DISPATCH_RUN_NOW_IN_BACKGROUND = True
    sync_dispatch_schedule()
    Schedule.objects.filter(name=SCHEDULE_NAME).update(
        next_run=timezone.now() - timedelta(minutes=10)
    )
    # What a running cluster does every 30 s: django-q2's scheduler takes the due
    # schedule and moves its next run ahead.
    scheduler(broker=get_broker())
    message = run_now(page)
    assert "starter om noen sekunder" in message
    assert "står stille" not in message
