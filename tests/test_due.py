"""What "due" means (docs/design.md), one edge at a time, through the pipeline's dry run."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from scheduler.dispatch.pipeline import run_dispatch
from scheduler.models import ActivityKind, PromptStatus
from tests import factories as f

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.get_fixed_timezone(60))
DAY = timedelta(days=1)


def due_ids(now: datetime = NOW) -> set[tuple[int, int, int]]:
    summary = run_dispatch(dry_run=True, now=now)
    return {(p.peer_mentor_id, p.scenario_id, p.activity_id) for p in summary.prompts}


@pytest.fixture
def mentor():
    return f.mentor()


def test_it_is_due_exactly_at_the_delay(mentor) -> None:
    s = f.scenario(delay_days=3)
    a = f.activity(mentor, occurred_at=NOW - 3 * DAY)
    assert due_ids() == {(mentor.pk, s.pk, a.pk)}


def test_it_is_not_due_a_second_before_the_delay(mentor) -> None:
    f.scenario(delay_days=3)
    f.activity(mentor, occurred_at=NOW - 3 * DAY + timedelta(seconds=1))
    assert due_ids() == set()


def test_it_is_due_at_the_last_moment_of_the_lookback(mentor) -> None:
    s = f.scenario(delay_days=3, lookback_days=7)
    a = f.activity(mentor, occurred_at=NOW - 10 * DAY)
    assert due_ids() == {(mentor.pk, s.pk, a.pk)}


def test_it_is_too_late_a_second_after_the_lookback(mentor) -> None:
    f.scenario(delay_days=3, lookback_days=7)
    f.activity(mentor, occurred_at=NOW - 10 * DAY - timedelta(seconds=1))
    assert due_ids() == set()


def test_it_reports_the_due_time_as_occurred_plus_delay(mentor) -> None:
    f.scenario(delay_days=2)
    occurred = NOW - 2 * DAY - timedelta(hours=5)
    f.activity(mentor, occurred_at=occurred)
    [prompt] = run_dispatch(dry_run=True, now=NOW).prompts
    assert prompt.due_at == occurred + 2 * DAY


def test_it_only_triggers_on_the_trigger_kind(mentor) -> None:
    f.scenario(trigger_kind=ActivityKind.HOME_VISIT)
    f.activity(mentor, kind=ActivityKind.FIRST_CONTACT, occurred_at=NOW - 3 * DAY)
    visit = f.activity(mentor, kind=ActivityKind.HOME_VISIT, occurred_at=NOW - 3 * DAY)
    assert {a for _, _, a in due_ids()} == {visit.pk}


def test_it_matches_the_scenario_chapter_only(mentor) -> None:
    other = f.mentor()
    s = f.scenario(chapter=mentor.chapter)
    a = f.activity(mentor, occurred_at=NOW - 3 * DAY)
    f.activity(other, occurred_at=NOW - 3 * DAY)
    assert due_ids() == {(mentor.pk, s.pk, a.pk)}


def test_it_applies_a_chapterless_scenario_to_every_chapter(mentor) -> None:
    other = f.mentor()
    f.scenario(chapter=None)
    f.activity(mentor, occurred_at=NOW - 3 * DAY)
    f.activity(other, occurred_at=NOW - 3 * DAY)
    assert {m for m, _, _ in due_ids()} == {mentor.pk, other.pk}


def test_it_requires_the_wellbeing_flag_when_asked(mentor) -> None:
    f.scenario(requires_wellbeing_concern=True)
    f.activity(mentor, occurred_at=NOW - 3 * DAY, wellbeing_concern=False)
    flagged = f.activity(mentor, occurred_at=NOW - 3 * DAY, wellbeing_concern=True)
    assert {a for _, _, a in due_ids()} == {flagged.pk}


def test_it_is_cancelled_by_a_later_activity_for_the_same_contact(mentor) -> None:
    f.scenario(skip_if_followed_up=True)
    f.activity(mentor, occurred_at=NOW - 3 * DAY, contact_ref="X")
    f.activity(mentor, kind=ActivityKind.PHONE_CALL, occurred_at=NOW - DAY, contact_ref="X")
    assert due_ids() == set()


def test_it_ignores_later_activity_for_another_contact_or_mentor(mentor) -> None:
    s = f.scenario(skip_if_followed_up=True)
    a = f.activity(mentor, occurred_at=NOW - 3 * DAY, contact_ref="X")
    f.activity(mentor, kind=ActivityKind.FOLLOW_UP, occurred_at=NOW - DAY, contact_ref="Y")
    f.activity(f.mentor(), kind=ActivityKind.FOLLOW_UP, occurred_at=NOW - DAY, contact_ref="X")
    assert (mentor.pk, s.pk, a.pk) in due_ids()


def test_it_is_not_cancelled_by_a_future_dated_activity(mentor) -> None:
    s = f.scenario(skip_if_followed_up=True)
    a = f.activity(mentor, occurred_at=NOW - 3 * DAY, contact_ref="X")
    f.activity(mentor, kind=ActivityKind.FOLLOW_UP, occurred_at=NOW + DAY, contact_ref="X")
    assert due_ids() == {(mentor.pk, s.pk, a.pk)}


def test_it_is_not_cancelled_by_an_activity_at_the_same_moment(mentor) -> None:
    s = f.scenario(skip_if_followed_up=True)
    a = f.activity(mentor, occurred_at=NOW - 3 * DAY, contact_ref="X")
    f.activity(mentor, kind=ActivityKind.FOLLOW_UP, occurred_at=NOW - 3 * DAY, contact_ref="X")
    assert (mentor.pk, s.pk, a.pk) in due_ids()


def test_it_ignores_follow_ups_when_the_scenario_does_not_skip(mentor) -> None:
    s = f.scenario(skip_if_followed_up=False)
    a = f.activity(mentor, occurred_at=NOW - 3 * DAY, contact_ref="X")
    f.activity(mentor, kind=ActivityKind.FOLLOW_UP, occurred_at=NOW - DAY, contact_ref="X")
    assert due_ids() == {(mentor.pk, s.pk, a.pk)}


def test_it_skips_inactive_mentors() -> None:
    inactive = f.mentor(is_active=False)
    f.scenario()
    f.activity(inactive, occurred_at=NOW - 3 * DAY)
    assert due_ids() == set()


def test_it_holds_a_paused_mentor_until_the_pause_ends() -> None:
    paused = f.mentor(prompts_paused_until=NOW + timedelta(hours=1))
    s = f.scenario()
    a = f.activity(paused, occurred_at=NOW - 3 * DAY)
    assert due_ids() == set()
    assert run_dispatch(dry_run=True, now=NOW).deferred == {"paused": 1}
    assert due_ids(NOW + timedelta(hours=1)) == {(paused.pk, s.pk, a.pk)}


def test_it_skips_disabled_scenarios(mentor) -> None:
    f.scenario(is_enabled=False)
    f.activity(mentor, occurred_at=NOW - 3 * DAY)
    assert due_ids() == set()


def test_it_drops_what_was_already_prompted(mentor) -> None:
    s = f.scenario()
    other = f.scenario()
    a = f.activity(mentor, occurred_at=NOW - 3 * DAY)
    f.prompt(s, a, status=PromptStatus.DISPATCHED)
    assert due_ids() == {(mentor.pk, other.pk, a.pk)}


def test_it_evaluates_with_a_fixed_number_of_queries_per_scenario(
    django_assert_num_queries, mentor
) -> None:
    for _ in range(3):
        f.scenario()
    for days in range(3, 9):
        f.activity(mentor, occurred_at=NOW - days * DAY)
        f.activity(f.mentor(), occurred_at=NOW - days * DAY)
    # 1 for the scenarios, 1 for reclaimable prompts (none), then one per scenario: the
    # due prompts, with the ones that became too late in the same query.
    with django_assert_num_queries(2 + 3):
        summary = run_dispatch(dry_run=True, now=NOW)
    assert len(summary.prompts) == 36
