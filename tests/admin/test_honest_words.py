"""What a coordinator reads is true: run-now, local times, review flags, counts, reasons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from django_q.models import Schedule

from scheduler import cluster
from scheduler.coordinators import explain
from scheduler.dispatch.schedule import SCHEDULE_NAME, sync_dispatch_schedule
from scheduler.models import ActivityKind, DispatchRun, PromptStatus
from tests import factories
from tests.admin.conftest import World

RUN_NOW = reverse("admin:scheduler_dispatchrun_run_now")
# 15:56 UTC is 16:56 in Oslo in winter.
WINTER = datetime(2026, 12, 4, 15, 56, tzinfo=UTC)


def schedule_next_run(moment: datetime) -> None:
    sync_dispatch_schedule()
    Schedule.objects.filter(name=SCHEDULE_NAME).update(next_run=moment)


def test_it_says_a_queued_run_starts_shortly_while_the_cluster_keeps_its_schedule(
    settings: object, coordinator_client: Client
) -> None:
    settings.DISPATCH_RUN_NOW_IN_BACKGROUND = True  # type: ignore[attr-defined]
    schedule_next_run(timezone.now() + timedelta(minutes=4))
    html = coordinator_client.post(RUN_NOW, follow=True).content.decode()
    assert "it starts within seconds" in html
    assert "Sending is stopped" not in html


def test_it_says_sending_is_stopped_when_no_cluster_keeps_the_schedule(
    settings: object, coordinator_client: Client
) -> None:
    settings.DISPATCH_RUN_NOW_IN_BACKGROUND = True  # type: ignore[attr-defined]
    settings.SUPPORT_CONTACT = "Per i IT, 900 00 000"  # type: ignore[attr-defined]
    schedule_next_run(timezone.now() - timedelta(minutes=10))
    html = coordinator_client.post(RUN_NOW, follow=True).content.decode()
    assert "it starts within seconds" not in html
    assert "Sending is stopped right now" in html
    assert "starts by itself as soon as sending runs again" in html
    assert "Please tell Per i IT, 900 00 000." in html
    assert "qcluster" not in html  # the command is for those who run the service


def test_it_names_the_command_to_superusers(settings: object, superuser_client: Client) -> None:
    settings.DISPATCH_RUN_NOW_IN_BACKGROUND = True  # type: ignore[attr-defined]
    schedule_next_run(timezone.now() - timedelta(minutes=10))
    html = superuser_client.post(RUN_NOW, follow=True).content.decode()
    assert "start manage.py qcluster" in html


def test_it_reads_the_health_state_without_the_schedule_row(db: None) -> None:
    Schedule.objects.filter(name=SCHEDULE_NAME).delete()
    assert not cluster.is_running()
    now = timezone.now()
    DispatchRun.objects.create(trigger="schedule", started_at=now, finished_at=now)
    assert cluster.is_running()


def test_it_names_runs_and_activities_in_local_time(world: World) -> None:
    run = DispatchRun(trigger=DispatchRun.Trigger.SCHEDULE, started_at=WINTER)
    with translation.override("nb"):
        assert str(run) == "tidsplan 2026-12-04 16:56"
    late = factories.activity(
        factories.mentor(world.home), occurred_at=datetime(2026, 12, 4, 23, 30, tzinfo=UTC)
    )
    assert str(late).endswith("2026-12-05")


def test_it_shows_the_run_of_a_prompt_in_local_time(superuser_client: Client) -> None:
    run = DispatchRun.objects.create(trigger="schedule", started_at=WINTER, finished_at=WINTER)
    prompt = factories.prompt(run=run)
    html = superuser_client.get(
        reverse("admin:scheduler_prompthistory_change", args=[prompt.pk])
    ).content.decode()
    assert "schedule 2026-12-04 16:56" in html
    assert "15:56" not in html


def test_it_prints_a_dry_run_with_names_and_local_times(world: World) -> None:
    scenario = factories.scenario(name="Sjekk inn", delay_days=3)
    mentor = factories.mentor(world.home, name="Ola Hansen")
    with time_machine.travel(WINTER + timedelta(days=3, minutes=5), tick=False):
        factories.activity(mentor, occurred_at=WINTER)
        out = StringIO()
        with translation.override("en"):
            call_command("run_dispatch", "--dry-run", stdout=out, stderr=StringIO())
    text = out.getvalue()
    assert "Ola Hansen" in text and "“Sjekk inn”" in text
    assert "due 2026-12-07 16:56 CET" in text
    assert scenario.pk and "15:56" not in text


def test_it_prints_the_run_dispatch_summary_in_norwegian(world: World) -> None:
    out = StringIO()
    with translation.override("nb"):
        call_command("run_dispatch", stdout=out, stderr=StringIO())
    assert "Sendt 0, mislyktes 0" in out.getvalue()


def test_it_asks_for_review_only_on_prompts_in_doubt(superuser_client: Client) -> None:
    plain = factories.prompt()
    doubtful = factories.prompt(status=PromptStatus.FAILED, needs_review=True)

    def page(pk: int) -> str:
        url = reverse("admin:scheduler_prompthistory_change", args=[pk])
        return superuser_client.get(url).content.decode()

    assert "Needs review" not in page(plain.pk)
    assert "may or may not have received" not in page(plain.pk)
    doubtful_page = page(doubtful.pk)
    assert "Needs review" in doubtful_page
    assert "Ask the mentor." in doubtful_page
    listing = superuser_client.get(reverse("admin:scheduler_prompthistory_changelist"))
    assert listing.content.decode().count('class="needs-review"') == 1


def test_it_names_the_mentor_and_activity_fields_in_norwegian(superuser_client: Client) -> None:
    prompt = factories.prompt()
    url = reverse("admin:scheduler_prompthistory_change", args=[prompt.pk])
    html = in_norwegian(superuser_client).get(url).content.decode()
    assert "Likeperson" in html and "Aktivitet" in html
    assert "Peer mentor" not in html and "Activity:" not in html and "Run:" not in html


def in_norwegian(client: Client) -> Client:
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "nb"
    return client


def test_it_counts_sent_in_the_dry_run_as_the_scenario_list_does(
    coordinator_client: Client, world: World
) -> None:
    scenario = factories.scenario(chapter=world.home)
    mentor = factories.mentor(world.home)
    sent, failed = factories.activities([mentor, mentor], days_ago=5)
    factories.prompt(scenario, sent)
    factories.prompt(scenario, failed, status=PromptStatus.FAILED)
    url = reverse("admin:scheduler_scenario_preview", args=[scenario.pk])
    response = coordinator_client.get(url, {"dry-days": 30})
    real_data = response.context["real_data"]
    assert (real_data.already_prompted, real_data.already_sent) == (2, 1)
    assert "In the prompt log already: 2 (sent: 1;" in response.content.decode()
    listing = coordinator_client.get(reverse("admin:scheduler_scenario_changelist"))
    assert listing.context["cl"].result_list[0].report_figures.sent == 1


def test_it_ends_the_why_page_summary_with_one_full_stop(
    coordinator_client: Client, world: World
) -> None:
    activity = factories.activity(
        factories.mentor(world.home), occurred_at=datetime(2026, 12, 4, 13, 55, tzinfo=UTC)
    )
    html = coordinator_client.get(reverse("admin:scheduler_activity_why", args=[activity.pk]))
    text = html.content.decode()
    assert "2:55 p.m.." not in text
    assert "2:55 p.m." in text


@pytest.fixture
def scenario(world: World) -> object:
    return factories.scenario(chapter=world.home, delay_days=3, lookback_days=7)


def test_it_gives_one_deciding_reason_and_says_which_side_of_the_window(
    world: World, scenario: object
) -> None:
    mentor = factories.mentor(world.home)
    early = factories.activity(mentor, days_ago=1, contact_ref="C-9")
    factories.activity(mentor, days_ago=0.5, contact_ref="C-9", kind=ActivityKind.FOLLOW_UP)
    (result,) = explain.explain(early, [scenario])
    assert result.message.startswith("Cancelled because a later activity")
    assert result.unmet == (f"not due until {explain.when(early.occurred_at + timedelta(days=3))}",)

    old = factories.activity(mentor, days_ago=30)
    (result,) = explain.explain(old, [scenario])
    assert result.message.startswith("Too late")
    assert result.unmet == ()


def test_it_lists_no_other_reasons_for_a_prompted_activity(world: World, scenario: object) -> None:
    mentor = factories.mentor(world.home)
    activity = factories.activity(mentor, days_ago=20, contact_ref="C-8")
    factories.activity(mentor, days_ago=19, contact_ref="C-8", kind=ActivityKind.FOLLOW_UP)
    factories.prompt(scenario, activity)
    (result,) = explain.explain(activity, [scenario])
    assert result.state == explain.PROMPTED
    assert result.unmet == ()


def test_it_tells_a_coordinator_what_a_stopped_scheduler_means(db: None) -> None:
    from scheduler.monitoring import health

    coordinator = User(username="kari", is_staff=True)
    text = health.banner(health.Snapshot([], None), coordinator)
    assert "Prompts are not being sent yet" in text and "qcluster" not in text
