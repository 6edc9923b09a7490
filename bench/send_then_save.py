"""The baseline for dispatch: a send-then-save loop, one prompt at a time.

Per due prompt it looks up the mentor's devices, sends to each through the
same Supabase backend and loopback server as the pipeline, waits for the
answer, and only then saves the prompt's history row. Nothing is claimed
before sending and nothing overlaps, so its rate is about 1 / latency.
"""

from __future__ import annotations

import time

from django.utils import timezone

from bench.dispatch import forget_prompts
from bench.latency_server import supabase_settings
from scheduler.dispatch.pipeline import run_dispatch
from scheduler.due_prompts import DuePrompt
from scheduler.models import DeviceToken, PromptHistory, PromptStatus, Scenario
from scheduler.push import BasePushBackend, PushMessage, get_backend


def send_then_save_loop(base_url: str, sample: int) -> dict[str, object]:
    forget_prompts()
    now = timezone.now()
    scenarios = Scenario.objects.in_bulk()
    with supabase_settings(base_url), get_backend(concurrency=1) as backend:
        started = time.perf_counter()
        sent = 0
        for prompt in run_dispatch(dry_run=True, now=now).prompts[:sample]:
            status = send_one(backend, prompt, scenarios[prompt.scenario_id])
            save_one(prompt, status)
            sent += 1
        seconds = time.perf_counter() - started
    rows = PromptHistory.objects.count()
    forget_prompts()
    return {
        "prompts": sent,
        "seconds": round(seconds, 3),
        "prompts_per_second": round(sent / seconds, 1) if seconds else 0.0,
        "history_rows": rows,
    }


def send_one(backend: BasePushBackend, prompt: DuePrompt, scenario: Scenario) -> PromptStatus:
    status = PromptStatus.SKIPPED
    tokens = DeviceToken.objects.filter(peer_mentor_id=prompt.peer_mentor_id, is_active=True)
    for token in tokens.values_list("token", flat=True):
        message = PushMessage(
            None, prompt.peer_mentor_id, prompt.scenario_id, token, scenario.title, scenario.body
        )
        status = PromptStatus.DISPATCHED if backend.send(message).ok else PromptStatus.FAILED
    return status


def save_one(prompt: DuePrompt, status: PromptStatus) -> None:
    PromptHistory.objects.create(
        peer_mentor_id=prompt.peer_mentor_id,
        scenario_id=prompt.scenario_id,
        activity_id=prompt.activity_id,
        status=status,
        due_at=prompt.due_at,
        dispatched_at=timezone.now() if status == PromptStatus.DISPATCHED else None,
        attempts=1,
    )
