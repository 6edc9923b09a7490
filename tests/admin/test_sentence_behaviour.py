"""The sentence a coordinator reads and the prompts the scheduler finds move together.

For every combination of the four switches, each condition is mentioned in
describe() exactly when it changes what due_activities() returns on a fixture
built so that one probe activity differs from the baseline in one way only.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from django.utils import timezone, translation

from scheduler.models import Activity, ActivityKind, Chapter, Scenario
from scheduler.rules import describe, due_activities
from tests import factories

SWITCHES = list(itertools.product([False, True], [False, True], [False, True], [0, 3]))


@dataclass
class Probes:
    home: Chapter
    baseline: Activity  # meets every condition of every combination
    no_concern: Activity  # differs only in the wellbeing flag
    followed_up: Activity  # differs only in a later activity for the same contact
    other_chapter: Activity  # differs only in the mentor's chapter
    just_now: Activity  # occurred an hour ago: due only without a delay


@pytest.fixture
def probes(db: None) -> Probes:
    now = timezone.now()
    home, other = factories.chapter(), factories.chapter()
    mentor, outsider = factories.mentor(home), factories.mentor(other)
    earlier = now - timedelta(days=3, hours=1)

    def probe(who=mentor, at: datetime = earlier, concern: bool = True) -> Activity:  # type: ignore[no-untyped-def]
        return factories.activity(who, occurred_at=at, wellbeing_concern=concern)

    followed_up = probe()
    factories.activity(
        mentor,
        kind=ActivityKind.FOLLOW_UP,
        occurred_at=now - timedelta(days=1),
        contact_ref=followed_up.contact_ref,
    )
    return Probes(
        home=home,
        baseline=probe(),
        no_concern=probe(concern=False),
        followed_up=followed_up,
        other_chapter=probe(who=outsider),
        just_now=probe(at=now - timedelta(hours=1)),
    )


def scenario_for(probes: Probes, concern: bool, skip: bool, chapter: bool, delay: int) -> Scenario:
    return factories.scenario(
        requires_wellbeing_concern=concern,
        skip_if_followed_up=skip,
        chapter=probes.home if chapter else None,
        delay_days=delay,
        lookback_days=7,
    )


@pytest.mark.parametrize(("concern", "skip", "chapter", "delay"), SWITCHES)
@pytest.mark.parametrize("language", ["en", "nb"])
def test_it_mentions_a_condition_exactly_when_it_changes_the_due_prompts(
    probes: Probes, concern: bool, skip: bool, chapter: bool, delay: int, language: str
) -> None:
    scenario = scenario_for(probes, concern, skip, chapter, delay)
    due = set(due_activities(scenario, timezone.now()).values_list("pk", flat=True))
    with translation.override(language):
        sentence = describe(scenario)
        concern_words = translation.gettext("if a wellbeing concern was flagged")
        followed_words = translation.gettext(
            "unless a later activity has been logged for the same contact"
        )
        chapter_words = translation.gettext("for mentors in %(chapter)s") % {"chapter": probes.home}
        right_after = translation.gettext("Send right after a %(kind)s") % {
            "kind": ActivityKind.FIRST_CONTACT.label
        }

    assert probes.baseline.pk in due
    assert (concern_words in sentence) == (probes.no_concern.pk not in due)
    assert (followed_words in sentence) == (probes.followed_up.pk not in due)
    assert (chapter_words in sentence) == (probes.other_chapter.pk not in due)
    assert (right_after in sentence) == (probes.just_now.pk in due)


def test_it_reads_the_rule_in_norwegian_by_default(probes: Probes) -> None:
    scenario = scenario_for(probes, concern=True, skip=True, chapter=False, delay=3)
    with translation.override("nb"):
        sentence = describe(scenario)
    assert sentence.startswith(
        "Send 3 dager etter førstekontakt, hvis en bekymring for trivsel ble meldt, med mindre"
    )
