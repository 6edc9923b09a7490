"""Lists, filters, charts, the CSV and the duplicate-rule warning as a coordinator meets them."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import formats, timezone

from scheduler.coordinators import charts
from scheduler.models import DispatchRun, PromptHistory, PromptStatus, Scenario
from tests import factories
from tests.admin.conftest import World


def norwegian(user: User) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="nb")
    client.force_login(user)
    return client


def test_it_draws_three_to_five_round_ticks() -> None:
    for peak in [0, 1, 3, 7, 10, 11, 40, 99, 1234]:
        ticks = charts.axis_ticks(peak)
        assert 3 <= len(ticks) <= 5, (peak, ticks)
        assert ticks[0] == 0 and ticks[-1] >= peak
        step = ticks[1]
        assert ticks == list(range(0, ticks[-1] + 1, step))


def test_it_dates_the_newest_day_of_the_chart(coordinator_client: Client, world: World) -> None:
    factories.prompt(factories.scenario(), factories.activity(factories.mentor(world.home)))
    page = coordinator_client.get(reverse("admin:scheduler_prompthistory_changelist"))
    daily = charts.prompts_per_day(PromptHistory.objects.all(), timezone.now())
    newest = formats.date_format(daily.days[-1], "d.m")
    html = page.content.decode()
    assert f'class="day">{newest}<' in html
    assert len(re.findall(r'class="tick"', html)) >= 3


def test_it_calls_chapterless_scenarios_every_chapter_in_the_filter(
    coordinator: User, world: World
) -> None:
    factories.scenario(chapter=None)
    factories.scenario(chapter=world.home)
    html = norwegian(coordinator).get(reverse("admin:scheduler_scenario_changelist"))
    text = html.content.decode()
    assert "alle lokallag" in text
    assert not re.search(r'<a href="\?chapter__isnull=True"[^>]*>-</a>', text)


def test_it_counts_prompts_in_plural(coordinator: User, world: World) -> None:
    scenario = factories.scenario()
    mentor = factories.mentor(world.home)
    for activity in factories.activities([mentor, mentor]):
        factories.prompt(scenario, activity)
    html = norwegian(coordinator).get(reverse("admin:scheduler_prompthistory_changelist"))
    paginator = re.search(r'<p class="paginator">(.*?)</p>', html.content.decode(), re.S)
    assert paginator is not None
    assert " ".join(paginator.group(1).split()) == "2 påminnelser"


def test_it_exports_csv_for_norwegian_excel(coordinator: User, world: World) -> None:
    mentor = factories.mentor(world.home, name="Åse Øvrebø")
    row = factories.prompt(factories.scenario(), factories.activity(mentor), title="=HYPERLINK(1)")
    response = norwegian(coordinator).post(
        reverse("admin:scheduler_prompthistory_changelist"),
        {"action": "export_csv", "_selected_action": [row.pk]},
    )
    body = response.content
    assert body.startswith(b"\xef\xbb\xbf")
    header, values = csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";")
    assert header[:5] == ["id", "opprettet", "klar", "sendt", "status"]
    assert values[4] == "sendt" and values[6] == "nei" and values[7] == "Åse Øvrebø"
    assert values[11] == "'=HYPERLINK(1)"
    local = timezone.localtime(row.created_at)
    assert values[1] == f"{local:%Y-%m-%d %H:%M}"


def test_it_warns_of_a_duplicate_rule_before_and_after_saving(
    coordinator_client: Client, world: World
) -> None:
    factories.scenario(name="Sjekk inn", chapter=None, delay_days=3)
    factories.scenario(name="Bergen sin", chapter=world.other, delay_days=3)
    describe = reverse("admin:scheduler_scenario_describe")
    form = {
        "name": "Ny",
        "chapter": world.home.pk,
        "trigger_kind": "first_contact",
        "delay_days": 3,
        "skip_if_followed_up": "on",
        "lookback_days": 7,
        "title": "Hei",
        "body": "Hvordan gikk det?",
    }
    assert coordinator_client.get(describe, form).json()["duplicate_warning"] == ""
    warning = coordinator_client.get(describe, {**form, "is_enabled": "on"}).json()[
        "duplicate_warning"
    ]
    assert "“Sjekk inn”" in warning and "Bergen sin" not in warning
    assert (
        coordinator_client.get(describe, {**form, "is_enabled": "on", "delay_days": 4}).json()[
            "duplicate_warning"
        ]
        == ""
    )

    response = coordinator_client.post(
        reverse("admin:scheduler_scenario_add"), {**form, "is_enabled": "on"}, follow=True
    )
    assert "two prompts for one activity" in response.content.decode()
    assert Scenario.objects.filter(name="Ny", is_enabled=True).exists()


def test_it_does_not_count_a_scenario_as_its_own_duplicate(
    coordinator_client: Client, world: World
) -> None:
    scenario = factories.scenario(chapter=world.home)
    describe = reverse("admin:scheduler_scenario_describe")
    data = {
        "scenario": scenario.pk,
        "name": scenario.name,
        "is_enabled": "on",
        "chapter": world.home.pk,
        "trigger_kind": scenario.trigger_kind,
        "delay_days": scenario.delay_days,
        "skip_if_followed_up": "on",
        "lookback_days": 7,
    }
    assert coordinator_client.get(describe, data).json()["duplicate_warning"] == ""


def test_it_labels_the_preview_fields_with_capitals(
    coordinator_client: Client, world: World
) -> None:
    scenario = factories.scenario(chapter=world.home)
    html = coordinator_client.get(reverse("admin:scheduler_scenario_preview", args=[scenario.pk]))
    text = html.content.decode()
    assert ">Kind:</label>" in text and ">Days back:</label>" in text
    assert "admin/css/forms.css" in text  # the layout and the date and time icons


def test_it_shows_a_run_duration_with_a_decimal_comma(coordinator: User) -> None:
    start = timezone.now()
    DispatchRun.objects.create(
        trigger="schedule",
        started_at=start,
        finished_at=start + timedelta(seconds=2.5),
        dispatched=1,
    )
    html = norwegian(coordinator).get(reverse("admin:scheduler_dispatchrun_changelist"))
    assert "2,5 s" in html.content.decode()


def test_it_keeps_prompt_status_words_in_the_csv_in_english_for_english(
    coordinator_client: Client, world: World
) -> None:
    row = factories.prompt(
        factories.scenario(),
        factories.activity(factories.mentor(world.home)),
        status=PromptStatus.FAILED,
    )
    response = coordinator_client.post(
        reverse("admin:scheduler_prompthistory_changelist"),
        {"action": "export_csv", "_selected_action": [row.pk]},
    )
    _, values = csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";")
    assert values[4] == "failed" and values[6] == "no"


def test_it_names_the_task_queue_and_login_menus_in_norwegian(db: None) -> None:
    root = User.objects.create_superuser("root", "root@example.org", "pw")
    html = norwegian(root).get(reverse("admin:index")).content.decode()
    assert "Vellykkede oppgaver" in html and "Planlagte oppgaver" in html
    assert "innloggingsforsøk" in html.lower()
    for english in ["Successful tasks", "Scheduled tasks", "Access attempts", "Access logs"]:
        assert english not in html
