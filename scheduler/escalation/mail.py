"""The coordinators' email: one per coordinator per run, listing the run's new escalations.

Only the coordinators of the mentor's chapter get an escalation, each in `To`
of a message of their own. A line carries the mentor, the contact reference,
the scenario, the activity's date, what happened to the prompt and the days
since, with a link to the activity's "why / why not" page: never a note or
other free text about the contact person. Norwegian first, then English.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from scheduler.models import Coordinator, Escalation, EscalationStatus, PromptStatus, local_time

logger = logging.getLogger(__name__)

LANGUAGES = ("nb", "en")


@dataclass(frozen=True)
class Line:
    escalation_id: int
    chapter_id: int
    mentor: str
    contact_ref: str
    scenario: str
    activity_id: int
    activity_date: date
    prompt_status: str
    needs_review: bool
    days_since: int

    def text(self) -> str:
        return _(
            "- %(mentor)s, contact %(contact)s: %(scenario)s, activity on %(date)s, "
            "%(outcome)s, %(days)s ago.\n  Why / why not: %(url)s"
        ) % {
            "mentor": self.mentor,
            "contact": self.contact_ref,
            "scenario": self.scenario,
            "date": self.activity_date.isoformat(),
            "outcome": outcome(self.prompt_status, self.needs_review),
            "days": ngettext("%(n)d day", "%(n)d days", self.days_since) % {"n": self.days_since},
            "url": why_url(self.activity_id),
        }


def outcome(status: str, needs_review: bool) -> str:
    """What happened to the prompt, in the coordinator's words."""
    if status == PromptStatus.DISPATCHED:
        return _("the prompt reached the mentor's phone")
    if status == PromptStatus.FAILED and needs_review:
        return _("the prompt may not have reached the mentor")
    if status == PromptStatus.FAILED:
        return _("the prompt could not be sent")
    return _("no prompt was sent (no app or no longer due)")


def why_url(activity_id: int) -> str:
    return settings.SITE_URL + reverse("admin:scheduler_activity_why", args=[activity_id])


def unsent_lines(run_id: int, now: datetime) -> list[Line]:
    """The escalations this run holds and has not emailed yet: one query."""
    rows = (
        Escalation.objects.filter(run_id=run_id, notified_at__isnull=True)
        .filter(status=EscalationStatus.OPEN)
        .order_by("prompt__activity__occurred_at", "pk")
        .values_list(
            "pk",
            "prompt__peer_mentor__chapter_id",
            "prompt__peer_mentor__name",
            "prompt__activity__contact_ref",
            "prompt__scenario__name",
            "prompt__activity_id",
            "prompt__activity__occurred_at",
            "prompt__status",
            "prompt__needs_review",
        )
    )
    return [
        Line(
            pk,
            chapter,
            mentor,
            contact,
            scenario,
            activity,
            local_time(at).date(),
            status,
            review,
            max((now - at).days, 0),
        )
        for pk, chapter, mentor, contact, scenario, activity, at, status, review in rows
    ]


def recipients(chapter_ids: Iterable[int]) -> dict[str, set[int]]:
    """Email address -> the chapters of those lines its coordinator answers for: one query."""
    links = Coordinator.chapters.through.objects.filter(
        chapter_id__in=list(chapter_ids), coordinator__user__is_active=True
    ).exclude(coordinator__user__email="")
    by_address: dict[str, set[int]] = defaultdict(set)
    for chapter_id, address in links.values_list("chapter_id", "coordinator__user__email"):
        by_address[address.strip()].add(chapter_id)
    return {address: chapters for address, chapters in by_address.items() if address}


def message(address: str, lines: Sequence[Line]) -> EmailMessage:
    subjects, bodies = [], []
    for language in LANGUAGES:
        with translation.override(language):
            subjects.append(
                ngettext(
                    "%(count)d concern without follow-up",
                    "%(count)d concerns without follow-up",
                    len(lines),
                )
                % {"count": len(lines)}
            )
            bodies.append(body(lines))
    return EmailMessage(
        subject=" / ".join(subjects),
        body="\n\n---\n\n".join(bodies),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[address],
    )


def body(lines: Sequence[Line]) -> str:
    intro = _(
        "The mentor has logged no follow-up for these contacts since the activity that "
        "started the prompt. Please check in with the mentor."
    )
    outro = _('Mark each one handled under "Concerns without follow-up" in the admin.')
    return "\n\n".join([intro, "\n".join(line.text() for line in lines), outro])


def notify(run_id: int, now: datetime) -> tuple[int, int]:
    """Email each coordinator their chapters' unsent escalations; returns (sent, failed).

    `notified_at` is set on every escalation whose emails all went out (also
    when its chapter has no coordinator with an address: the admin shows it).
    One failed send leaves its escalations for the next run.
    """
    lines = unsent_lines(run_id, now)
    if not lines:
        return 0, 0
    undelivered: set[int] = set()
    sent = failed = 0
    addresses = recipients({line.chapter_id for line in lines})
    if addresses:
        with get_connection() as connection:
            for address, chapter_ids in sorted(addresses.items()):
                mine = [line for line in lines if line.chapter_id in chapter_ids]
                try:
                    delivered = connection.send_messages([message(address, mine)])
                except Exception:
                    logger.exception("escalation: the email to a coordinator failed")
                    delivered = 0
                if delivered:
                    sent += 1
                else:
                    failed += 1
                    undelivered |= {line.escalation_id for line in mine}
    notified = [line.escalation_id for line in lines if line.escalation_id not in undelivered]
    Escalation.objects.filter(pk__in=notified, run_id=run_id, notified_at__isnull=True).update(
        notified_at=timezone.now()
    )
    return sent, failed
