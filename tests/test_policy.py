"""Delivery policy: quiet hours, the daily cap, pausing and staleness. Deferred, never dropped."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from scheduler.dispatch.pipeline import run_dispatch
from scheduler.models import DeviceToken, DispatchRun, PromptHistory, PromptStatus
from scheduler.push import SendOutcome, locmem
from tests import factories as f

pytestmark = pytest.mark.django_db

OSLO = ZoneInfo("Europe/Oslo")
DAY = timedelta(days=1)


def oslo(*args: int) -> datetime:
    return datetime(*args, tzinfo=OSLO)


@pytest.fixture
def quiet_nights(settings):
    settings.TIME_ZONE = "Europe/Oslo"
    settings.QUIET_HOURS = (time(21, 0), time(8, 0))


def one_due_prompt(now: datetime, **scenario_fields):
    s = f.scenario(delay_days=3, lookback_days=2, **scenario_fields)
    m = f.mentor()
    # 3 x 24 hours before `now` as an instant (wall-clock arithmetic on a local time
    # would be an hour off across a DST change).
    a = f.activity(m, occurred_at=now.astimezone(UTC) - 3 * DAY)
    return s, m, a


class TestQuietHours:
    def test_it_sends_just_before_the_window(self, quiet_nights) -> None:
        now = oslo(2026, 11, 28, 20, 59, 59)
        one_due_prompt(now)
        assert run_dispatch(now=now).dispatched == 1

    def test_it_defers_at_the_start_of_the_window_until_its_end(self, quiet_nights) -> None:
        now = oslo(2026, 11, 28, 21, 0)
        one_due_prompt(now)
        summary = run_dispatch(now=now)
        assert (summary.dispatched, summary.deferred) == (0, {"quiet_hours": 1})
        assert summary.deferred_until == oslo(2026, 11, 29, 8, 0)
        assert PromptHistory.objects.count() == 0 and locmem.outbox == []

    def test_it_defers_just_before_the_end_of_the_window(self, quiet_nights) -> None:
        now = oslo(2026, 11, 29, 7, 59, 59)
        one_due_prompt(now)
        summary = run_dispatch(now=now)
        assert summary.deferred == {"quiet_hours": 1}
        assert summary.deferred_until == oslo(2026, 11, 29, 8, 0)

    def test_it_sends_a_deferred_prompt_with_the_first_run_after_the_window(
        self, quiet_nights
    ) -> None:
        night = oslo(2026, 11, 28, 23, 0)
        one_due_prompt(night)
        assert run_dispatch(now=night).dispatched == 0
        assert run_dispatch(now=oslo(2026, 11, 29, 8, 0)).dispatched == 1

    def test_it_uses_local_time_across_a_daylight_saving_change(self, quiet_nights) -> None:
        # 29 March 2026: clocks jump from 02:00 to 03:00; 07:30 local is 05:30 UTC.
        now = oslo(2026, 3, 29, 7, 30)
        one_due_prompt(now)
        summary = run_dispatch(now=now)
        assert summary.deferred_until == oslo(2026, 3, 29, 8, 0)
        assert run_dispatch(now=oslo(2026, 3, 29, 8, 0)).dispatched == 1

    def test_it_handles_a_window_inside_one_day(self, settings) -> None:
        settings.QUIET_HOURS = (time(12, 0), time(13, 0))
        now = oslo(2026, 11, 28, 12, 30)
        one_due_prompt(now)
        assert run_dispatch(now=now).deferred_until == oslo(2026, 11, 28, 13, 0)
        assert run_dispatch(now=oslo(2026, 11, 28, 13, 0)).dispatched == 1

    def test_it_stores_deferrals_on_the_run(self, quiet_nights) -> None:
        now = oslo(2026, 11, 28, 22, 0)
        one_due_prompt(now)
        run_dispatch(now=now)
        assert DispatchRun.objects.get().deferred == {"quiet_hours": 1}


class TestDailyCap:
    def test_it_sends_at_most_the_cap_oldest_due_first(self, settings) -> None:
        settings.MAX_PROMPTS_PER_MENTOR_PER_DAY = 2
        now = oslo(2026, 11, 28, 12, 0)
        m = f.mentor()
        scenarios = [f.scenario(delay_days=d, lookback_days=5) for d in (1, 2, 3)]
        activity = f.activity(m, occurred_at=now - 3 * DAY)  # due 2, 1 and 0 days ago

        summary = run_dispatch(now=now)

        assert (summary.dispatched, summary.deferred) == (2, {"daily_cap": 1})
        sent = set(PromptHistory.objects.values_list("scenario_id", flat=True))
        assert sent == {scenarios[0].pk, scenarios[1].pk}  # the two due earliest
        assert activity.prompts.count() == 2

    def test_it_counts_per_mentor(self, settings) -> None:
        settings.MAX_PROMPTS_PER_MENTOR_PER_DAY = 1
        now = oslo(2026, 11, 28, 12, 0)
        f.scenario(delay_days=3, lookback_days=5)
        f.scenario(delay_days=2, lookback_days=5)
        for _ in range(3):
            f.activity(f.mentor(), occurred_at=now - 3 * DAY)
        summary = run_dispatch(now=now)
        assert (summary.dispatched, summary.deferred) == (3, {"daily_cap": 3})

    def test_it_counts_what_earlier_runs_sent_today(self, settings) -> None:
        settings.MAX_PROMPTS_PER_MENTOR_PER_DAY = 1
        now = oslo(2026, 11, 28, 9, 0)
        m = f.mentor()
        f.scenario(delay_days=3, lookback_days=5)
        f.activity(m, occurred_at=now - 3 * DAY)
        assert run_dispatch(now=now).dispatched == 1
        f.activity(m, occurred_at=now - 3 * DAY + timedelta(hours=2))
        later = run_dispatch(now=now + timedelta(hours=3))
        assert (later.dispatched, later.deferred) == (0, {"daily_cap": 1})

    def test_it_counts_a_prompt_waiting_for_a_retry_from_its_first_attempt(self, settings) -> None:
        """The push service may have received a send that timed out: it uses the day's slot."""
        settings.MAX_PROMPTS_PER_MENTOR_PER_DAY = 1
        now = oslo(2026, 11, 28, 9, 0)
        m = f.mentor()
        f.scenario(delay_days=3, lookback_days=5)
        f.activity(m, occurred_at=now - 3 * DAY)
        locmem.scripted[m.device_tokens.get().token] = [SendOutcome.transient("read timed out")]
        assert run_dispatch(now=now).retrying == 1

        f.activity(m, occurred_at=now - 3 * DAY + timedelta(hours=1))
        later = run_dispatch(now=now + timedelta(hours=2))

        assert (later.dispatched, later.deferred) == (0, {"daily_cap": 1})

    def test_it_lets_a_retry_through_on_the_slot_it_already_holds(self, settings) -> None:
        settings.MAX_PROMPTS_PER_MENTOR_PER_DAY = 1
        settings.DISPATCH_RETRY_MAX_SECONDS = 60
        now = oslo(2026, 11, 28, 9, 0)
        m = f.mentor()
        f.scenario(delay_days=3, lookback_days=5)
        f.activity(m, occurred_at=now - 3 * DAY)
        locmem.scripted[m.device_tokens.get().token] = [SendOutcome.transient("read timed out")]
        with time_machine.travel(now, tick=False):
            run_dispatch()

        with time_machine.travel(now + timedelta(hours=1), tick=False):
            again = run_dispatch()

        assert (again.dispatched, again.deferred) == (1, {})
        assert len({message.prompt_id for message in locmem.outbox}) == 1

    def test_it_gives_no_slot_to_a_prompt_skipped_for_want_of_a_device(self, settings) -> None:
        settings.MAX_PROMPTS_PER_MENTOR_PER_DAY = 1
        now = oslo(2026, 11, 28, 9, 0)
        m = f.mentor(tokens=0)
        f.scenario(delay_days=3, lookback_days=5)
        f.activity(m, occurred_at=now - 3 * DAY)
        assert run_dispatch(now=now).skipped == 1
        DeviceToken.objects.create(peer_mentor=m, token="device-token-registered-later")
        f.activity(m, occurred_at=now - 3 * DAY + timedelta(hours=1))

        assert run_dispatch(now=now + timedelta(hours=2)).dispatched == 1

    def test_it_sends_the_rest_the_next_local_day(self, settings) -> None:
        settings.MAX_PROMPTS_PER_MENTOR_PER_DAY = 1
        now = oslo(2026, 11, 28, 23, 30)
        m = f.mentor()
        f.scenario(delay_days=3, lookback_days=5)
        f.scenario(delay_days=2, lookback_days=5)
        f.activity(m, occurred_at=now - 3 * DAY)
        assert run_dispatch(now=now).dispatched == 1
        assert run_dispatch(now=oslo(2026, 11, 28, 23, 59)).dispatched == 0
        assert run_dispatch(now=oslo(2026, 11, 29, 0, 0)).dispatched == 1

    def test_it_uses_the_local_day_when_the_clocks_go_back(self, settings) -> None:
        # 25 October 2026 has 25 hours in Oslo: 00:30 and 23:30 local are 24 h apart in UTC
        # yet the same day, so the cap still holds.
        settings.MAX_PROMPTS_PER_MENTOR_PER_DAY = 1
        morning = oslo(2026, 10, 25, 0, 30)
        evening = oslo(2026, 10, 25, 23, 30)
        assert evening.astimezone(UTC) - morning.astimezone(UTC) == timedelta(hours=24)
        m = f.mentor()
        f.scenario(delay_days=0, lookback_days=2)
        f.activity(m, occurred_at=morning)
        assert run_dispatch(now=morning).dispatched == 1
        f.activity(m, occurred_at=evening)
        assert run_dispatch(now=evening).deferred == {"daily_cap": 1}
        assert run_dispatch(now=oslo(2026, 10, 26, 0, 0)).dispatched == 1

    def test_it_drops_a_capped_prompt_once_it_is_too_late(self, settings) -> None:
        settings.MAX_PROMPTS_PER_MENTOR_PER_DAY = 1
        now = oslo(2026, 11, 28, 12, 0)
        m = f.mentor()
        f.scenario(delay_days=1, lookback_days=1)
        f.scenario(delay_days=2, lookback_days=1)
        f.activity(m, occurred_at=now - 2 * DAY)
        assert run_dispatch(now=now).dispatched == 1
        # A day and a second later the held-back prompt is past its 1-day lookback.
        summary = run_dispatch(now=now + DAY + timedelta(seconds=1))
        assert (summary.dispatched, summary.deferred) == (0, {})
        assert PromptHistory.objects.count() == 1


class TestPause:
    def test_it_holds_prompts_while_paused_and_sends_after(self) -> None:
        now = oslo(2026, 11, 28, 12, 0)
        m = f.mentor(prompts_paused_until=now + timedelta(hours=6))
        f.scenario(delay_days=3, lookback_days=2)
        f.activity(m, occurred_at=now - 3 * DAY)

        paused = run_dispatch(now=now)
        assert (paused.dispatched, paused.deferred) == (0, {"paused": 1})
        assert run_dispatch(now=now + timedelta(hours=6)).dispatched == 1

    def test_it_never_sends_after_a_pause_outlasting_the_lookback(self) -> None:
        now = oslo(2026, 11, 28, 12, 0)
        m = f.mentor(prompts_paused_until=now + 3 * DAY)
        f.scenario(delay_days=3, lookback_days=2)
        f.activity(m, occurred_at=now - 3 * DAY)
        assert run_dispatch(now=now + 3 * DAY).dispatched == 0
        assert locmem.outbox == []


class TestStaleness:
    def test_it_never_sends_a_retry_that_slid_out_of_the_lookback(self) -> None:
        now = oslo(2026, 11, 28, 12, 0)
        _, m, _ = one_due_prompt(now)
        locmem.scripted[m.device_tokens.get().token] = [SendOutcome.transient("503")]
        assert run_dispatch(now=now).retrying == 1
        PromptHistory.objects.update(next_attempt_at=now)

        summary = run_dispatch(now=now + 3 * DAY)

        row = PromptHistory.objects.get()
        assert (row.status, summary.failed) == (PromptStatus.FAILED, 1)
        assert row.last_error.startswith("Too late")
        assert len(locmem.outbox) == 1

    def test_it_reports_prompts_that_became_too_late_on_a_dry_run(self) -> None:
        now = oslo(2026, 11, 28, 12, 0)
        s = f.scenario(delay_days=1, lookback_days=1)
        f.activity(f.mentor(prompts_paused_until=now + 2 * DAY), occurred_at=now - DAY)
        assert run_dispatch(dry_run=True, now=now).deferred == {"paused": 1}

        summary = run_dispatch(dry_run=True, now=now + 2 * DAY)

        assert (summary.prompts, summary.deferred, summary.too_late) == ((), {}, 1)
        assert s.prompts.count() == 0
