"""The delivery log: read-only, filtered, exported, retried, charted."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from scheduler.coordinators import charts
from scheduler.models import PromptHistory, PromptStatus
from tests import factories
from tests.admin.conftest import World

CHANGELIST = reverse("admin:scheduler_prompthistory_changelist")


def prompt(
    chapter: object, status: str = PromptStatus.DISPATCHED, **fields: object
) -> PromptHistory:
    mentor = factories.mentor(chapter, name=fields.pop("name", None) or "Kari Nordmann")
    return PromptHistory.objects.create(
        peer_mentor=mentor,
        scenario=factories.scenario(chapter=chapter),
        activity=factories.activity(mentor),
        status=status,
        **fields,
    )


def test_it_lists_only_the_coordinators_chapter(coordinator_client: Client, world: World) -> None:
    mine = prompt(world.home)
    prompt(world.other)
    page = coordinator_client.get(CHANGELIST)
    assert list(page.context["cl"].result_list) == [mine]


@pytest.mark.parametrize(
    "query", ["status=failed", "peer_mentor__chapter__id__exact={home}", "q=Nordmann"]
)
def test_it_filters_and_searches(coordinator_client: Client, world: World, query: str) -> None:
    failed = prompt(world.home, PromptStatus.FAILED)
    prompt(world.home, name="Ola Hansen")
    page = coordinator_client.get(CHANGELIST + "?" + query.format(home=world.home.pk))
    assert failed in list(page.context["cl"].result_list)
    assert len(page.context["cl"].result_list) == (2 if query.startswith("peer") else 1)


def test_it_never_changes_or_deletes_history(superuser_client: Client, world: World) -> None:
    row = prompt(world.home, title="Snapshot title", rule_sentence="Send 3 days after ...")
    page = superuser_client.get(reverse("admin:scheduler_prompthistory_change", args=[row.pk]))
    assert not page.context["has_change_permission"]
    assert "Snapshot title" in page.content.decode()
    delete = reverse("admin:scheduler_prompthistory_delete", args=[row.pk])
    assert superuser_client.post(delete, {"post": "yes"}).status_code == 403


def test_it_lists_without_one_query_per_row(
    coordinator_client: Client, world: World, django_assert_max_num_queries: object
) -> None:
    for _ in range(3):
        prompt(world.home)
    coordinator_client.get(CHANGELIST)  # warm caches (content types, sessions)
    with django_assert_max_num_queries(16) as few:  # type: ignore[operator]
        coordinator_client.get(CHANGELIST)
    for _ in range(20):
        prompt(world.home)
    with django_assert_max_num_queries(len(few.captured_queries)):  # type: ignore[operator]
        coordinator_client.get(CHANGELIST)


def action(client: Client, name: str, rows: list[PromptHistory]) -> object:
    return client.post(
        CHANGELIST, {"action": name, "_selected_action": [r.pk for r in rows]}, follow=True
    )


def test_it_retries_failed_prompts_on_the_same_row(
    coordinator_client: Client, world: World
) -> None:
    row = prompt(world.home, PromptStatus.FAILED, attempts=5, needs_review=True)
    response = action(coordinator_client, "retry_failed", [row])
    row.refresh_from_db()
    assert (row.status, row.attempts, row.needs_review) == (PromptStatus.RETRY, 5, False)
    assert row.next_attempt_at is not None and row.next_attempt_at <= timezone.now()
    assert PromptHistory.objects.count() == 1
    assert "1 failed prompt will be retried" in response.content.decode()
    assert "may already have received it" in response.content.decode()


def test_it_leaves_prompts_that_did_not_fail(coordinator_client: Client, world: World) -> None:
    row = prompt(world.home, PromptStatus.DISPATCHED)
    response = action(coordinator_client, "retry_failed", [row])
    row.refresh_from_db()
    assert row.status == PromptStatus.DISPATCHED
    assert "was not failed" in response.content.decode()


def test_it_never_retries_another_chapters_prompt(coordinator_client: Client, world: World) -> None:
    theirs = prompt(world.other, PromptStatus.FAILED)
    action(coordinator_client, "retry_failed", [theirs])
    theirs.refresh_from_db()
    assert theirs.status == PromptStatus.FAILED


def test_it_exports_the_selection_as_csv(coordinator_client: Client, world: World) -> None:
    row = prompt(world.home, title="=HYPERLINK(1)")
    response = coordinator_client.post(
        CHANGELIST, {"action": "export_csv", "_selected_action": [row.pk]}
    )
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[1][0] == str(row.pk)
    assert rows[1][8] == "Oslo"
    assert rows[1][11] == "'=HYPERLINK(1)"


def test_it_draws_prompts_per_day_by_status(coordinator_client: Client, world: World) -> None:
    prompt(world.home, PromptStatus.FAILED)
    prompt(world.home, PromptStatus.DISPATCHED, created_at=timezone.now() - timedelta(days=2))
    page = coordinator_client.get(CHANGELIST).content.decode()
    assert "<svg" in page
    assert 'data-status="failed"' in page and 'data-status="dispatched"' in page


def test_it_counts_per_local_day_in_one_query(
    world: World, django_assert_num_queries: object
) -> None:
    now = timezone.now()
    prompt(world.home, PromptStatus.FAILED, created_at=now)
    prompt(world.home, PromptStatus.FAILED, created_at=now)
    prompt(world.home, PromptStatus.DISPATCHED, created_at=now - timedelta(days=40))
    with django_assert_num_queries(1):  # type: ignore[operator]
        daily = charts.prompts_per_day(PromptHistory.objects.all(), now)
    assert daily.counts == {timezone.localdate(now): {"failed": 2}}
