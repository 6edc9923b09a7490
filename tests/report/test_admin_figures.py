from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from tests import factories
from tests.admin.conftest import make_coordinator

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english() -> None:
    with translation.override("en"):
        yield


def client_for(user: User) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def test_it_shows_a_coordinator_counts_with_rates_and_a_weekly_chart() -> None:
    oslo, bergen = factories.chapter("Oslo"), factories.chapter("Bergen")
    scenario = factories.scenario(name="Everyone", chapter=None)
    when = timezone.now() - timedelta(days=3)
    for index, chapter in enumerate([oslo, oslo, oslo, oslo, bergen]):
        mentor = factories.mentor(chapter)
        trigger = factories.activity(mentor, contact_ref=f"K{index}", days_ago=6)
        factories.prompt(
            scenario,
            trigger,
            created_at=when,
            dispatched_at=when,
            opened_at=when if index == 0 else None,
        )
        if index < 2:
            factories.activity(
                mentor, contact_ref=f"K{index}", occurred_at=when + timedelta(hours=2)
            )
    kari = client_for(make_coordinator("kari", oslo))

    listing = kari.get("/admin/scheduler/scenario/").content.decode()
    assert "1 of 4, 25 %" in listing
    assert "2 of 4, 50 %" in listing

    page = kari.get(f"/admin/scheduler/scenario/{scenario.pk}/change/").content.decode()
    assert 'class="report-chart"' in page
    assert "4 sent, 1 opened, 2 followed up</title>" in page


def test_it_computes_the_list_columns_in_one_query_for_all_rows() -> None:
    root = User.objects.create_superuser("root", "r@example.org", "pw-long-enough-1")
    client = client_for(root)
    factories.scenario()
    client.get("/admin/scheduler/scenario/")
    with CaptureQueriesContext(connection) as few:
        client.get("/admin/scheduler/scenario/")
    for _ in range(5):
        factories.scenario()
    with CaptureQueriesContext(connection) as many:
        client.get("/admin/scheduler/scenario/")
    assert len(many.captured_queries) == len(few.captured_queries)
    escalated = [q for q in many.captured_queries if "scheduler_escalation" in q["sql"]]
    figures = [
        q
        for q in many.captured_queries
        if "scheduler_prompthistory" in q["sql"] and q not in escalated
    ]
    # PostgreSQL takes the median in the same query; SQLite reads the durations in a second.
    assert len(figures) == (1 if connection.vendor == "postgresql" else 2)
    assert len(escalated) == 1
