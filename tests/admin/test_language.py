"""Norwegian bokmål by default, with every project string translated."""

from __future__ import annotations

import re
from pathlib import Path

from django.apps import apps
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from tests import factories
from tests.admin.conftest import World

PO = Path(apps.get_app_config("scheduler").path) / "locale" / "nb" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")


def test_it_translates_every_message() -> None:
    entries = PO.read_text(encoding="utf-8").split("\n\n")[1:]
    untranslated = [e for e in entries if re.search(r'^msgstr(\[\d\])? ""$(?!\n")', e, re.M)]
    fuzzy = [e for e in entries if "#, fuzzy" in e]
    assert untranslated == []
    assert fuzzy == []


def test_it_ships_the_compiled_catalogue() -> None:
    assert MO.exists()
    assert MO.stat().st_mtime >= PO.stat().st_mtime - 1


def test_it_speaks_norwegian_by_default(coordinator: User, world: World) -> None:
    scenario = factories.scenario(chapter=world.home)
    client = Client()
    client.force_login(coordinator)
    page = client.get(reverse("admin:scheduler_scenario_changelist")).content.decode()
    assert "Send 3 dager etter førstekontakt" in page
    assert "Forhåndsvis" in page
    preview = client.get(reverse("admin:scheduler_scenario_preview", args=[scenario.pk]))
    assert "Prøvekjøring på ekte data" in preview.content.decode()
