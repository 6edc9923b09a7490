from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import formats, timezone, translation

from tests.admin.conftest import PASSWORD, make_coordinator
from tests.health.conftest import finished_run

pytestmark = pytest.mark.django_db

ERROR = "Push backend misconfigured, run stopped: HTTP 401 unauthorized\nTraceback line two"


@pytest.fixture(autouse=True)
def english(settings: object) -> None:
    settings.DISPATCH_INTERVAL_MINUTES = 5
    with translation.override("en"):
        yield


def page(user: User, url: str = "/admin/") -> str:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def root() -> User:
    return User.objects.create_superuser("root", "root@example.org", PASSWORD)


@pytest.fixture
def kari() -> User:
    return make_coordinator("kari")


def test_it_shows_no_banner_while_runs_succeed(root: User) -> None:
    finished_run(minutes_ago=3)
    assert 'id="scheduler-health-banner"' not in page(root)


# Oslo is an hour ahead of UTC in winter.
MIDDAY = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
AFTER_MIDNIGHT = datetime(2026, 11, 28, 23, 10, tzinfo=UTC)


def test_it_says_since_when_the_scheduler_has_not_run(root: User) -> None:
    with time_machine.travel(MIDDAY, tick=True):
        run = finished_run(minutes_ago=40)
        html = page(root, "/admin/scheduler/scenario/")
    assert 'id="scheduler-health-banner"' in html
    assert "The scheduler has not run since" in html
    assert "manage.py qcluster" in html
    assert formats.time_format(timezone.localtime(run.finished_at), "H:i") in html


def test_it_gives_the_date_too_when_the_last_run_was_on_an_earlier_day(root: User) -> None:
    with time_machine.travel(AFTER_MIDNIGHT, tick=True):  # 00:10 in Oslo
        run = finished_run(minutes_ago=40)
        html = page(root, "/admin/scheduler/scenario/")
    local = timezone.localtime(run.finished_at)
    assert formats.date_format(local, "SHORT_DATETIME_FORMAT") in html


def test_it_shows_the_latest_errors_first_line_to_superusers_only(root: User, kari: User) -> None:
    finished_run(minutes_ago=12, error="older")
    finished_run(minutes_ago=7, error="older")
    finished_run(minutes_ago=2, error=ERROR)
    html = page(root)
    assert "The last three runs failed: Push backend misconfigured, run stopped: HTTP 401" in html
    assert "Traceback line two" not in html
    coordinator_html = page(kari)
    assert "Prompts are not being sent right now: the last three runs failed." in coordinator_html
    assert "HTTP 401" not in coordinator_html


def test_it_does_not_speak_of_failures_after_fewer_than_three(root: User) -> None:
    finished_run(minutes_ago=7)
    finished_run(minutes_ago=2, error=ERROR)
    assert 'id="scheduler-health-banner"' not in page(root)


def test_it_names_the_product_instead_of_django(root: User) -> None:
    finished_run(minutes_ago=1)
    html = page(root)
    assert "Follow-up prompts" in html
    assert "Django administration" not in html and "Django site admin" not in html


def test_it_names_the_product_in_norwegian(root: User) -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="nb")
    client.force_login(root)
    with translation.override("nb"):
        html = client.get("/admin/").content.decode()
    assert "Oppfølgingspåminnelser" in html


def test_it_costs_one_query_on_an_admin_page(root: User) -> None:
    finished_run(minutes_ago=1)
    client = Client()
    client.force_login(root)
    client.get("/admin/password_change/")  # warm up the session and user queries
    with CaptureQueriesContext(connection) as queries:
        client.get("/admin/password_change/")
    run_queries = [q for q in queries.captured_queries if "scheduler_dispatchrun" in q["sql"]]
    assert len(run_queries) == 1
