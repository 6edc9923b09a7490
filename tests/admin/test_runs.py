"""Dispatch runs: the log, and the "Run dispatch now" button."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_q.models import OrmQ

from scheduler.models import DispatchRun, PromptHistory
from scheduler.push import locmem
from tests import factories
from tests.admin.conftest import World

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


def test_it_lists_runs_with_counts_and_duration(coordinator_client: Client) -> None:
    started = timezone.now()
    DispatchRun.objects.create(
        trigger="schedule",
        started_at=started,
        finished_at=started + timedelta(seconds=2.5),
        dispatched=7,
        deferred={"quiet_hours": 2},
    )
    page = coordinator_client.get(CHANGELIST).content.decode()
    assert "2.5 s" in page
    assert ">7<" in page


def test_it_writes_no_history_when_nothing_is_due(coordinator_client: Client) -> None:
    coordinator_client.post(RUN_NOW)
    assert DispatchRun.objects.get().dispatched == 0
    assert not PromptHistory.objects.exists()
