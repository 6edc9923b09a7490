"""Text that shows nothing on a phone (spaces, a zero-width space) counts as no text."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from scheduler.dispatch.pipeline import run_dispatch
from scheduler.models import PromptHistory, Scenario
from scheduler.push import locmem
from scheduler.text import is_blank
from tests import factories as f

INVISIBLE = [
    "",
    "   \t\n",
    "\u200b",  # zero-width space
    "\u200b\u200c\u200d\u2060\ufeff",  # zero-width (non-)joiners, word joiner, byte order mark
    "\u00a0\u3000\u2028\u202f",  # no-break, ideographic, line separator, narrow no-break
    "\u200e\u200f\u00ad",  # direction marks, soft hyphen
    "\u3164\u115f\u2800",  # Hangul fillers, blank braille pattern
    "\u034f\ufe0f",  # combining grapheme joiner, variation selector
    " \u200b \u200b ",
]
VISIBLE = ["Hei", "\u200bHei\u200b", ".", "ø", "😀", "\u2800x"]


@pytest.mark.parametrize("text", INVISIBLE)
def test_it_counts_text_that_shows_nothing_as_blank(text: str) -> None:
    assert is_blank(text)


@pytest.mark.parametrize("text", VISIBLE)
def test_it_counts_text_with_anything_to_read_as_text(text: str) -> None:
    assert not is_blank(text)


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["title", "body"])
@pytest.mark.parametrize("blank", ["\u200b", "\u00a0\u200b\u3000"], ids=["zwsp", "mixed"])
def test_it_sends_nothing_for_an_enabled_scenario_whose_text_shows_nothing(
    field: str, blank: str, caplog: pytest.LogCaptureFixture
) -> None:
    scenario = f.scenario()
    f.activity(f.mentor(), occurred_at=timezone.now() - timedelta(days=3))
    # Saved around the admin's checks, as a script or a shell could.
    Scenario.objects.filter(pk=scenario.pk).update(**{field: blank})

    summary = run_dispatch()

    assert (summary.dispatched, locmem.outbox) == (0, [])
    assert not PromptHistory.objects.exists()
    assert f"scenario {scenario.pk} has no title or message" in caplog.text
