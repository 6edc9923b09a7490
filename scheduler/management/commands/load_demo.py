from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from scheduler.models import (
    Activity,
    ActivityKind,
    Chapter,
    ClosedPeriod,
    Coordinator,
    DelayUnit,
    DeviceToken,
    PeerMentor,
    PromptHistory,
    PromptStatus,
    Scenario,
)

DEMO_PASSWORD = "demo-coordinator"
PRODUCTION_FLAG = "--yes-demo-data-in-production"

SCENARIOS = [
    {
        "name": "Sjekk inn etter bekymring",
        "trigger_kind": ActivityKind.FIRST_CONTACT,
        "delay_days": 3,
        "delay_unit": DelayUnit.WORKING_DAYS,
        "requires_wellbeing_concern": True,
        "skip_if_followed_up": True,
        "lookback_days": 7,
        "escalate_after_days": 5,
        "title": "Tid for å sjekke inn",
        "body": "Det er tre virkedager siden en førstekontakt med bekymring. Ta gjerne kontakt igjen.",
    },
    {
        "name": "Oppfølging etter hjemmebesøk",
        "trigger_kind": ActivityKind.HOME_VISIT,
        "delay_days": 7,
        "requires_wellbeing_concern": False,
        "skip_if_followed_up": True,
        "lookback_days": 14,
        "title": "Hvordan gikk det?",
        "body": "Det er en uke siden hjemmebesøket. Er det tid for en oppfølging?",
    },
    {
        "name": "Takk for samtalen",
        "trigger_kind": ActivityKind.PHONE_CALL,
        "delay_days": 1,
        "requires_wellbeing_concern": False,
        "skip_if_followed_up": False,
        "lookback_days": 3,
        "title": "Husk å loggføre",
        "body": "Du hadde en telefonsamtale i går. Husk å notere eventuelle avtaler.",
    },
]


class Command(BaseCommand):
    help = (
        "Create demo chapters, mentors, activities, scenarios and a coordinator login (idempotent)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            PRODUCTION_FLAG,
            action="store_true",
            dest="production",
            help="Load the demo data even with DEBUG off (it creates a login with a known password).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # The demo login has a published password: a production site must not get it by accident.
        if not (settings.DEBUG or options["production"]):
            raise CommandError(
                f"Refusing to create the demo login with DEBUG off; pass {PRODUCTION_FLAG} "
                "to do it anyway."
            )
        self._load()

    @transaction.atomic
    def _load(self) -> None:
        now = timezone.now()
        new_mentors: list[PeerMentor] = []
        oslo, _ = Chapter.objects.get_or_create(name="Oslo")
        bergen, _ = Chapter.objects.get_or_create(name="Bergen")
        for chapter, names in (
            (oslo, ["Kari Nordmann", "Ola Hansen"]),
            (bergen, ["Ingrid Berg", "Lars Dahl"]),
        ):
            for index, name in enumerate(names):
                mentor, created = PeerMentor.objects.get_or_create(name=name, chapter=chapter)
                DeviceToken.objects.get_or_create(
                    token=f"demo-token-{chapter.name.lower()}-{index}",
                    defaults={"peer_mentor": mentor},
                )
                if created:
                    self._activities(mentor, now, seed=index)
                    new_mentors.append(mentor)
        for spec in SCENARIOS:
            Scenario.objects.get_or_create(name=spec["name"], defaults={**spec, "is_enabled": True})
        self._closed_periods(now)
        first = Scenario.objects.get(name=SCENARIOS[0]["name"])
        for seed, mentor in enumerate(new_mentors):
            self._history(mentor, first, now, seed)
        self._coordinator(oslo)
        self.stdout.write("Demo data ready. Coordinator login: koordinator / " + DEMO_PASSWORD)

    def _closed_periods(self, now: datetime) -> None:
        """The office's Christmas closure, this year's and next: working days skip it."""
        year = timezone.localdate(now).year
        for y in (year, year + 1):
            ClosedPeriod.objects.get_or_create(
                name=f"Juleferie {y}",
                chapter=None,
                defaults={"first_day": date(y, 12, 24), "last_day": date(y, 12, 31)},
            )

    def _activities(self, mentor: PeerMentor, now: datetime, seed: int) -> None:
        ref = f"K-{mentor.pk:03d}"
        Activity.objects.bulk_create(
            [
                Activity(
                    peer_mentor=mentor,
                    contact_ref=ref + "a",
                    kind=ActivityKind.FIRST_CONTACT,
                    occurred_at=now - timedelta(days=3, hours=2),
                    wellbeing_concern=True,
                ),
                Activity(
                    peer_mentor=mentor,
                    contact_ref=ref + "b",
                    kind=ActivityKind.FIRST_CONTACT,
                    occurred_at=now - timedelta(days=4),
                    wellbeing_concern=True,
                ),
                Activity(
                    peer_mentor=mentor,
                    contact_ref=ref + "b",
                    kind=ActivityKind.FOLLOW_UP,
                    occurred_at=now - timedelta(days=1),
                ),
                Activity(
                    peer_mentor=mentor,
                    contact_ref=ref + "c",
                    kind=ActivityKind.HOME_VISIT,
                    occurred_at=now - timedelta(days=8 + seed),
                ),
                Activity(
                    peer_mentor=mentor,
                    contact_ref=ref + "d",
                    kind=ActivityKind.PHONE_CALL,
                    occurred_at=now - timedelta(days=1, hours=3),
                ),
            ]
        )

    def _history(self, mentor: PeerMentor, scenario: Scenario, now: datetime, seed: int) -> None:
        """Prompts of past weeks, some opened and followed up, for the scenario figures.

        Their first contacts are past the scenario's lookback, so they make nothing due now.
        """
        for week in range(1, 6):
            sent_at = now - timedelta(days=7 * week - seed)
            trigger = Activity.objects.create(
                peer_mentor=mentor,
                contact_ref=f"K-{mentor.pk:03d}-{week}",
                kind=ActivityKind.FIRST_CONTACT,
                occurred_at=sent_at - timedelta(days=3),
                wellbeing_concern=True,
            )
            PromptHistory.objects.create(
                peer_mentor=mentor,
                scenario=scenario,
                activity=trigger,
                status=PromptStatus.DISPATCHED,
                created_at=sent_at,
                due_at=sent_at,
                dispatched_at=sent_at,
                finished_at=sent_at,
                opened_at=sent_at + timedelta(hours=2) if (week + seed) % 3 else None,
                attempts=1,
                title=scenario.title,
                body=scenario.body,
            )
            if (week + seed) % 2:
                Activity.objects.create(
                    peer_mentor=mentor,
                    contact_ref=trigger.contact_ref,
                    kind=ActivityKind.FOLLOW_UP,
                    occurred_at=sent_at + timedelta(hours=20 + 6 * seed),
                )

    def _coordinator(self, chapter: Chapter) -> None:
        User = get_user_model()
        user, created = User.objects.get_or_create(
            username="koordinator", defaults={"is_staff": True, "email": "koordinator@example.org"}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        group = Group.objects.filter(name="Coordinator").first()
        if group:
            user.groups.add(group)
        coordinator, _ = Coordinator.objects.get_or_create(user=user)
        coordinator.chapters.add(chapter)
