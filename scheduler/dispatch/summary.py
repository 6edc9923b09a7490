"""What a run comes to: the counts as it goes (Tally) and its summary (DispatchSummary),
which the DispatchRun row, the command's output and its JSON are made from."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from scheduler.due_prompts import DuePrompt
from scheduler.models import PromptStatus

# One prompt of a dry run's JSON: ids are ints and an ISO date needs no escaping.
PROMPT_JSON = '{"peer_mentor_id": %d, "scenario_id": %d, "activity_id": %d, "due_at": "%s"}'


@dataclass(frozen=True)
class DispatchSummary:
    dispatched: int
    failed: int
    skipped: int
    retrying: int = 0
    in_doubt: int = 0
    deferred: dict[str, int] = field(default_factory=dict)
    deferred_until: datetime | None = None
    prompts: tuple[DuePrompt, ...] = ()  # what a dry run would send
    too_late: int = 0  # a dry run: never sent, left the lookback in the last day
    # Set when the push backend reported its configuration as wrong and the run stopped.
    misconfigured: str = ""

    def as_dict(self, *, dry_run: bool = False) -> dict[str, object]:
        data = self.figures(dry_run=dry_run)
        if dry_run:
            data["prompts"] = [
                {
                    "peer_mentor_id": p.peer_mentor_id,
                    "scenario_id": p.scenario_id,
                    "activity_id": p.activity_id,
                    "due_at": p.due_at.isoformat(),
                }
                for p in self.prompts
            ]
        return data

    def as_json(self, *, dry_run: bool = False) -> str:
        """`as_dict()` as JSON text, with a dry run's prompts written out directly:
        a dry run may list hundreds of thousands, and a dict per prompt through
        the encoder would cost more than finding them."""
        data = self.figures(dry_run=dry_run)
        if not dry_run:
            return json.dumps(data)
        prompts = ", ".join(
            [
                PROMPT_JSON % (mentor, scenario, activity, due_at.isoformat())
                for mentor, scenario, activity, due_at, _, _ in self.prompts
            ]
        )
        return f'{json.dumps(data)[:-1]}, "prompts": [{prompts}]}}'

    def figures(self, *, dry_run: bool = False) -> dict[str, object]:
        """Everything `as_dict` holds but a dry run's prompts."""
        data: dict[str, object] = {
            **self.counts(),
            "deferred": dict(self.deferred),
            "deferred_until": self.deferred_until.isoformat() if self.deferred_until else None,
        }
        if self.misconfigured:
            data["misconfigured"] = self.misconfigured
        if dry_run:
            data["too_late"] = self.too_late
        return data

    def counts(self) -> dict[str, int]:
        """The counts a DispatchRun row stores, by its field names."""
        return {
            "dispatched": self.dispatched,
            "failed": self.failed,
            "skipped": self.skipped,
            "retrying": self.retrying,
            "in_doubt": self.in_doubt,
        }


@dataclass
class Tally:
    counts: Counter[str] = field(default_factory=Counter)
    deferred: Counter[str] = field(default_factory=Counter)
    deferred_until: datetime | None = None
    in_doubt: int = 0
    misconfigured: str = ""

    def summary(self, prompts: Sequence[DuePrompt] = (), too_late: int = 0) -> DispatchSummary:
        return DispatchSummary(
            dispatched=self.counts[PromptStatus.DISPATCHED],
            failed=self.counts[PromptStatus.FAILED],
            skipped=self.counts[PromptStatus.SKIPPED],
            retrying=self.counts[PromptStatus.RETRY],
            in_doubt=self.in_doubt,
            deferred=dict(self.deferred),
            deferred_until=self.deferred_until,
            prompts=tuple(prompts),
            too_late=too_late,
            misconfigured=self.misconfigured,
        )
