"""Dispatch runs: the log, and the "Run dispatch now" button."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_q.models import OrmQ, Schedule

from scheduler.dispatch.schedule import SCHEDULE_NAME
from scheduler.models import DispatchRun, PromptHistory
from scheduler.push import locmem
from tests import factories
from tests.admin.conftest import World, make_coordinator

RUN_NOW = reverse("admin:scheduler_dispatchrun_run_now")
CHANGELIST = reverse("admin:scheduler_dispatchrun_changelist")


def test_it_runs_dispatch_from_the_button(coordinator_client: Client, world: World) -> None:
    factories.scenario(chapter=world.home)
    factories.activity(factories.mentor(world.home), days_ago=3.1)
    response = coordinator_client.post(RUN_NOW, follow=True)
    run = DispatchRun.objects.get()
    assert (run.trigger, run.dispatched) == ("admin", 1)
    assert len(locmem.outbox) == 1
    assert "Dispatch run finished: 1 sent" in response.content.decode()


def test_it_queues_the_run_for_the_cluster(
    settings: object, coordinator_client: Client, world: World
) -> None:
    settings.DISPATCH_RUN_NOW_IN_BACKGROUND = True  # type: ignore[attr-defined]
    factories.scenario(chapter=world.home)
    factories.activity(factories.mentor(world.home), days_ago=3.1)
    # A running cluster's scheduler keeps the dispatch schedule's next run ahead.
    Schedule.objects.filter(name=SCHEDULE_NAME).update(
        next_run=timezone.now() + timedelta(minutes=3)
    )

    response = coordinator_client.post(RUN_NOW, follow=True)

    assert "Dispatch run queued" in response.content.decode()
    assert not DispatchRun.objects.exists() and locmem.outbox == []
    [queued] = OrmQ.objects.all()
    assert queued.func() == "scheduler.tasks.admin_dispatch"


def test_it_shows_the_button_to_coordinators(coordinator_client: Client) -> None:
    assert 'id="run-now-form"' in coordinator_client.get(CHANGELIST).content.decode()


def test_it_refuses_a_run_without_the_permission(world: World) -> None:
    user = User.objects.create_user("viewer", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_dispatchrun"))
    client = Client()
    client.force_login(user)
    assert 'id="run-now-form"' not in client.get(CHANGELIST).content.decode()
    assert client.post(RUN_NOW).status_code == 403
    assert not DispatchRun.objects.exists()


def test_it_refuses_a_run_by_get(coordinator_client: Client) -> None:
    assert coordinator_client.get(RUN_NOW).status_code == 405
    assert not DispatchRun.objects.exists()


def test_it_refuses_a_run_without_csrf(coordinator: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(coordinator)
    assert client.post(RUN_NOW).status_code == 403
    assert not DispatchRun.objects.exists()


def test_it_lists_runs_with_counts_and_duration(superuser_client: Client) -> None:
    started = timezone.now()
    DispatchRun.objects.create(
        trigger="schedule",
        started_at=started,
        finished_at=started + timedelta(seconds=2.5),
        dispatched=7,
        deferred={"quiet_hours": 2},
    )
    page = superuser_client.get(CHANGELIST).content.decode()
    assert "2.5 s" in page
    assert ">7<" in page


def test_it_writes_no_history_when_nothing_is_due(coordinator_client: Client) -> None:
    coordinator_client.post(RUN_NOW)
    assert DispatchRun.objects.get().dispatched == 0
    assert not PromptHistory.objects.exists()


def run_with_prompts(world: World) -> DispatchRun:
    """One run: 2 prompts sent to the home chapter, 5 to the other, and an error."""
    run = DispatchRun.objects.create(
        trigger="schedule", dispatched=7, error="PushError: Bergen endpoint said no"
    )
    scenario = factories.scenario()
    for chapter, sent in ((world.home, 2), (world.other, 5)):
        mentor = factories.mentor(chapter)
        for _ in range(sent):
            PromptHistory.objects.create(
                peer_mentor=mentor,
                scenario=scenario,
                activity=factories.activity(mentor),
                status="dispatched",
                run=run,
            )
    return run


def chapterless_client(world: World) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(make_coordinator("nobody"))
    return client


def test_it_shows_a_coordinator_the_counts_of_their_chapters(
    coordinator_client: Client, world: World
) -> None:
    run_with_prompts(world)
    response = coordinator_client.get(CHANGELIST)
    [run] = response.context["cl"].result_list
    assert run.chapter_dispatched == 2
    assert ">7<" not in response.content.decode()


def test_it_hides_the_error_text_from_a_coordinator(
    coordinator_client: Client, world: World
) -> None:
    run = run_with_prompts(world)
    pages = [CHANGELIST, reverse("admin:scheduler_dispatchrun_change", args=[run.pk])]
    for url in pages:
        assert "Bergen endpoint" not in coordinator_client.get(url).content.decode()


def test_it_shows_a_coordinator_their_counts_on_the_run_page(
    coordinator_client: Client, world: World
) -> None:
    run = run_with_prompts(world)
    response = coordinator_client.get(reverse("admin:scheduler_dispatchrun_change", args=[run.pk]))
    assert response.context["original"].chapter_dispatched == 2


def test_it_shows_a_superuser_the_whole_run(superuser_client: Client, world: World) -> None:
    run_with_prompts(world)
    page = superuser_client.get(CHANGELIST).content.decode()
    assert ">7<" in page
    assert "Bergen endpoint" in page


def test_it_counts_every_run_in_one_query(coordinator_client: Client, world: World) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            coordinator_client.get(CHANGELIST)
        return len(captured)

    run_with_prompts(world)
    one_run = queries()
    for _ in range(3):
        run_with_prompts(world)
    assert queries() == one_run


def test_it_shows_a_coordinator_without_chapters_no_runs(world: World) -> None:
    run = run_with_prompts(world)
    client = chapterless_client(world)
    response = client.get(CHANGELIST)
    assert list(response.context["cl"].result_list) == []
    assert "Bergen endpoint" not in response.content.decode()
    detail = reverse("admin:scheduler_dispatchrun_change", args=[run.pk])
    assert client.get(detail).status_code == 404


def test_it_refuses_a_run_to_a_coordinator_without_chapters(world: World) -> None:
    factories.scenario()
    factories.activity(factories.mentor(world.other), days_ago=3.1)
    client = chapterless_client(world)
    assert 'id="run-now-form"' not in client.get(CHANGELIST).content.decode()
    assert client.post(RUN_NOW).status_code == 403
    assert not DispatchRun.objects.exists() and locmem.outbox == []


def due_everywhere(world: World) -> dict[str, str]:
    """A prompt due now for one mentor in each chapter, from a scenario for every chapter."""
    factories.scenario()
    tokens = {}
    for chapter in (world.home, world.other):
        mentor = factories.mentor(chapter)
        factories.activity(mentor, days_ago=3.1)
        tokens[chapter.name] = mentor.device_tokens.get().token
    return tokens


def test_it_runs_a_coordinator_dispatch_for_their_chapters_only(
    coordinator_client: Client, world: World
) -> None:
    tokens = due_everywhere(world)
    coordinator_client.post(RUN_NOW)
    assert [m.device_token for m in locmem.outbox] == [tokens["Oslo"]]
    assert not PromptHistory.objects.filter(peer_mentor__chapter=world.other).exists()


def test_it_runs_a_superuser_dispatch_for_every_chapter(
    superuser_client: Client, world: World
) -> None:
    tokens = due_everywhere(world)
    superuser_client.post(RUN_NOW)
    assert sorted(m.device_token for m in locmem.outbox) == sorted(tokens.values())


def test_it_queues_the_coordinators_chapters_with_the_run(
    settings: object, coordinator_client: Client, world: World
) -> None:
    settings.DISPATCH_RUN_NOW_IN_BACKGROUND = True  # type: ignore[attr-defined]
    coordinator_client.post(RUN_NOW)
    [queued] = OrmQ.objects.all()
    assert queued.kwargs() == {"chapter_ids": [world.home.pk]}
