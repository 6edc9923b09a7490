"""Escalation across real `run_dispatch` processes: overlapping runs tell each concern once,
and a run killed after its send and before it noted it causes exactly one repeat."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.utils import timezone

from scheduler.models import DispatchRun, Escalation
from tests import factories
from tests.escalation.concerns import coordinator, escalating_scenario, finished_prompt
from tests.reliability.children import (
    child_env,
    children_waiting_for_a_lock,
    run_dispatch_process,
    start_dispatch,
    wait_until,
)
from tests.reliability.mailbox import read_mailbox, refs_told

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

RUNS = 4
FILE_BACKEND = "django.core.mail.backends.filebased.EmailBackend"


@contextmanager
def released_at_the_escalation_table(count: int) -> Iterator[None]:
    """Runs started inside wait at their first write to the escalations, then go on together."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("LOCK TABLE scheduler_escalation IN EXCLUSIVE MODE")
        yield
        assert wait_until(lambda: children_waiting_for_a_lock(cursor) == count, timeout=60)


def seed(per_chapter: int) -> dict[str, list[str]]:
    """Two chapters of concerns due for escalation; returns each coordinator's contact refs."""
    now = timezone.now()
    oslo, bergen = factories.chapter("Oslo"), factories.chapter("Bergen")
    scenarios = [escalating_scenario() for _ in range(2)]
    refs: dict[str, list[str]] = {}
    for chapter in (oslo, bergen):
        refs[chapter.name] = []
        for i in range(per_chapter):
            ref = f"ref-{chapter.name}-{i:04d}-x"
            finished_prompt(scenarios[i % 2], chapter, now, contact_ref=ref)
            refs[chapter.name].append(ref)
    coordinator("kari", oslo)
    coordinator("ola", oslo, bergen)
    coordinator("per", bergen)
    return {
        "kari@example.org": refs["Oslo"],
        "ola@example.org": refs["Oslo"] + refs["Bergen"],
        "per@example.org": refs["Bergen"],
    }


def test_it_creates_and_emails_each_escalation_once_across_four_overlapping_runs(
    tmp_path: Path,
) -> None:
    expected = seed(per_chapter=30)
    mailbox = tmp_path / "mail"
    env = child_env(EMAIL_BACKEND=FILE_BACKEND, EMAIL_FILE_PATH=mailbox)

    with released_at_the_escalation_table(RUNS):
        children = [start_dispatch(env, tmp_path, f"run-{i}") for i in range(RUNS)]
    for child in children:
        assert child.wait(timeout=120) == 0, child.stderr

    assert Escalation.objects.count() == 60
    assert not Escalation.objects.filter(notified_at__isnull=True).exists()
    mails = read_mailbox(mailbox)
    every_ref = sorted({ref for refs in expected.values() for ref in refs})
    told = refs_told(mails, every_ref)
    assert set(told.values()) == {1}, "an escalation was emailed twice"
    for address, refs in expected.items():
        assert {ref for (to, ref) in told if to == address} == set(refs), address
    assert {m.to for m in mails} == set(expected)


def test_it_repeats_an_escalation_exactly_once_after_a_run_was_killed_before_noting_its_send(
    tmp_path: Path,
) -> None:
    now = timezone.now()
    chapter = factories.chapter("Oslo")
    scenario = escalating_scenario()
    refs = [f"ref-{i:03d}-x" for i in range(5)]
    for ref in refs:
        finished_prompt(scenario, chapter, now, contact_ref=ref)
    coordinator("kari", chapter)
    mailbox = tmp_path / "mail"
    lease = 2
    dying = child_env(
        EMAIL_BACKEND="tests.reliability.dying_email.EmailBackend",
        EMAIL_FILE_PATH=mailbox,
        DISPATCH_LEASE_SECONDS=lease,
    )
    killed = run_dispatch_process(dying, tmp_path, "killed")
    assert killed.process.returncode == -9, killed.stderr
    assert Escalation.objects.count() == len(refs)
    assert Escalation.objects.filter(notified_at__isnull=True).count() == len(refs)
    assert refs_told(read_mailbox(mailbox), refs) == dict.fromkeys(
        [("kari@example.org", ref) for ref in refs], 1
    )

    # The next run takes the dead run's unsent escalations once its lease has expired.
    assert wait_until(
        lambda: DispatchRun.objects.filter(lease_expires_at__lt=timezone.now()).exists(),
        timeout=lease * 5,
    )
    time.sleep(0.2)
    env = child_env(EMAIL_BACKEND=FILE_BACKEND, EMAIL_FILE_PATH=mailbox)
    for name in ("after", "later"):
        child = run_dispatch_process(env, tmp_path, name)
        assert child.process.returncode == 0, child.stderr

    assert refs_told(read_mailbox(mailbox), refs) == dict.fromkeys(
        [("kari@example.org", ref) for ref in refs], 2
    )
    assert not Escalation.objects.filter(notified_at__isnull=True).exists()
    assert Escalation.objects.count() == len(refs)
