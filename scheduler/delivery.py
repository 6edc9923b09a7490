"""Sending claimed prompts: a bounded pool of requests, each prompt on its own."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from scheduler.claims import ClaimedPrompt
from scheduler.models import PromptStatus
from scheduler.policy import next_attempt_delay
from scheduler.push import BasePushBackend, Delivery, PushMessage, SendOutcome

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PromptResult:
    prompt: ClaimedPrompt
    status: PromptStatus
    error: str = ""
    retry_after: float | None = None
    dead_tokens: tuple[tuple[str, str], ...] = ()  # (token, reason)
    finished_at: datetime = field(default_factory=timezone.now)
    # The backend's configuration is wrong: the prompt waits and the run stops.
    misconfigured: bool = False


class HistoryWriter(Protocol):
    def start_sending(self, prompts: Sequence[ClaimedPrompt], now: datetime) -> set[int]: ...
    def record(self, changes_by_id: dict[int, dict[str, object]]) -> None: ...
    def release(self, prompts: Iterable[ClaimedPrompt], now: datetime) -> None: ...


def send_to_devices(
    backend: BasePushBackend, prompt: ClaimedPrompt, tokens: Sequence[str]
) -> PromptResult:
    """Send one prompt to each active device; delivered once any device accepted it."""
    outcomes: list[tuple[str, SendOutcome]] = []
    for token in tokens:
        message = PushMessage(
            prompt_id=prompt.id,
            peer_mentor_id=prompt.peer_mentor_id,
            scenario_id=prompt.scenario_id,
            device_token=token,
            title=prompt.title,
            body=prompt.body,
        )
        try:
            outcome = backend.send(message)
        except Exception as exc:  # a backend bug must cost one prompt, not the run
            logger.exception("push backend raised for prompt %s", prompt.id)
            outcome = SendOutcome.permanent(f"{type(exc).__name__}: {exc}")
        outcomes.append((token, outcome))
    return combine(prompt, outcomes)


def combine(prompt: ClaimedPrompt, outcomes: Sequence[tuple[str, SendOutcome]]) -> PromptResult:
    dead = tuple((token, o.error) for token, o in outcomes if o.token_invalid)
    if any(o.ok for _, o in outcomes):
        return PromptResult(prompt, PromptStatus.DISPATCHED, dead_tokens=dead)
    errors = "; ".join(dict.fromkeys(o.error for _, o in outcomes if o.error))
    if any(o.delivery is Delivery.MISCONFIGURED for _, o in outcomes):
        return PromptResult(
            prompt, PromptStatus.RETRY, errors, dead_tokens=dead, misconfigured=True
        )
    transient = [o for _, o in outcomes if o.delivery is Delivery.TRANSIENT]
    # `attempts` is the count before this send, hence the + 1.
    if transient and prompt.attempts + 1 < settings.DISPATCH_MAX_ATTEMPTS:
        retry_after = max((o.retry_after or 0 for o in transient), default=0) or None
        return PromptResult(prompt, PromptStatus.RETRY, errors, retry_after, dead)
    return PromptResult(prompt, PromptStatus.FAILED, errors, dead_tokens=dead)


def history_changes(result: PromptResult) -> dict[str, object]:
    changes: dict[str, object] = {"status": result.status, "last_error": result.error[:2000]}
    if result.status == PromptStatus.DISPATCHED:
        changes["dispatched_at"] = result.finished_at
    if result.misconfigured:
        # Not the prompt's fault: the attempt does not count against it.
        changes["attempts"] = F("attempts") - 1
    if result.status == PromptStatus.RETRY:
        changes["next_attempt_at"] = result.finished_at + next_attempt_delay(
            result.prompt.attempts + 1, result.retry_after
        )
    return changes


def record_results(writer: HistoryWriter, results: Sequence[PromptResult]) -> None:
    """Store each outcome on its own row; a failure is logged, never raised.

    A wave is written in one transaction (one commit, not one per prompt); if
    that fails, each row is tried on its own so one bad row costs only itself.
    """
    changes = {r.prompt.id: history_changes(r) for r in results}
    try:
        writer.record(changes)
    except Exception:
        if len(results) == 1:
            log_unrecorded(results[0])
            return
        for result in results:
            try:
                writer.record({result.prompt.id: changes[result.prompt.id]})
            except Exception:
                log_unrecorded(result)


def log_unrecorded(result: PromptResult) -> None:
    logger.exception("could not record prompt %s as %s", result.prompt.id, result.status)


def dispatch(
    batches: Iterable[Sequence[tuple[ClaimedPrompt, Sequence[str]]]],
    backend: BasePushBackend,
    writer: HistoryWriter,
    *,
    concurrency: int,
    should_stop: Callable[[], bool] = lambda: False,
) -> Iterator[list[PromptResult]]:
    """Send prompts with at most `concurrency` in flight; yield results in waves.

    Batches are pulled lazily, so a run claims its next batch only when the
    previous one is nearly sent. Free slots are refilled before the finished
    wave is handed back for recording, so requests keep flowing while the
    caller writes. Prompts without a device are skipped here. If pulling a
    batch fails (the database went away), the prompts already in flight still
    land and are yielded, unsent claims are given back, then the error is raised.
    """
    failure: Exception | None = None
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="push") as pool:
        in_flight: dict[Future[PromptResult], ClaimedPrompt] = {}
        waiting: list[tuple[ClaimedPrompt, Sequence[str]]] = []
        finished: list[PromptResult] = []
        batch_iter = iter(batches)
        exhausted = False
        while True:
            wave: list[tuple[ClaimedPrompt, Sequence[str]]] = []
            while len(in_flight) + len(wave) < concurrency and not should_stop():
                if not waiting:
                    if exhausted:
                        break
                    try:
                        next_batch = next(batch_iter, None)
                    except Exception as exc:
                        failure, next_batch = exc, None
                    if next_batch is None:
                        exhausted = True
                        break
                    waiting = list(reversed(next_batch))
                    continue
                prompt, tokens = waiting.pop()
                if tokens:
                    wave.append((prompt, tokens))
                else:
                    finished.append(PromptResult(prompt, PromptStatus.SKIPPED, "No active device."))
            for prompt, tokens in startable(writer, wave):
                in_flight[pool.submit(send_to_devices, backend, prompt, tokens)] = prompt
            if finished:
                yield finished
                finished = []
            if not in_flight:
                if should_stop() or (exhausted and not waiting):
                    break
                continue
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            finished = [result_of(future, in_flight.pop(future)) for future in done]
        if waiting:
            release_unsent(writer, [p for p, _ in waiting])
    if failure is not None:
        raise failure


def startable(
    writer: HistoryWriter, wave: list[tuple[ClaimedPrompt, Sequence[str]]]
) -> list[tuple[ClaimedPrompt, Sequence[str]]]:
    """The part of the wave this run may send now.

    A prompt another run took over is dropped. If the mark cannot be written,
    nothing is sent: the prompts stay claimed and unstarted, so a later run
    takes them over instead of them being left in doubt.
    """
    if not wave:
        return []
    try:
        started = writer.start_sending([p for p, _ in wave], timezone.now())
    except Exception:
        logger.exception("could not mark %d prompts as sending; left for a later run", len(wave))
        return []
    return [(p, tokens) for p, tokens in wave if p.id in started]


def result_of(future: Future[PromptResult], prompt: ClaimedPrompt) -> PromptResult:
    try:
        return future.result()
    except Exception as exc:
        logger.exception("sending prompt %s failed unexpectedly", prompt.id)
        return PromptResult(prompt, PromptStatus.FAILED, f"{type(exc).__name__}: {exc}")


def release_unsent(writer: HistoryWriter, prompts: list[ClaimedPrompt]) -> None:
    try:
        writer.release(prompts, timezone.now())
    except Exception:
        logger.exception(
            "could not give back %d unsent claims; a later run takes them over", len(prompts)
        )
