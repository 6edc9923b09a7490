"""Sending claimed prompts: a bounded pool of requests, each prompt on its own, each
request timed; what a prompt is when claimed and what its send came to."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType

from django.utils import timezone

from scheduler.models import PromptStatus
from scheduler.monitoring.metrics import PUSH_LATENCY
from scheduler.push import BasePushBackend, Delivery, PushMessage, SendOutcome

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClaimedPrompt:
    id: int
    peer_mentor_id: int
    scenario_id: int
    activity_id: int
    title: str
    body: str
    attempt: int = 0  # this send's attempt number, set by Ledger.mark_sending


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
    # The push service said for sure: delivered, or refused for good. Only such a
    # result may replace the doubt another run put on the prompt meanwhile.
    definitive: bool = False


def send_to_devices(
    backend: BasePushBackend, prompt: ClaimedPrompt, tokens: Sequence[str], max_attempts: int
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
        outcomes.append((token, timed_send(backend, message)))
    return combine(prompt, outcomes, max_attempts)


def timed_send(backend: BasePushBackend, message: PushMessage) -> SendOutcome:
    """One request, its latency observed for Prometheus by backend and outcome."""
    started = time.perf_counter()
    try:
        outcome = backend.send(message)
    except Exception as exc:  # a backend bug must cost one prompt, not the run
        logger.exception("push backend raised for prompt %s", message.prompt_id)
        outcome = SendOutcome.permanent(f"{type(exc).__name__}: {exc}")
        observe_latency(backend, "error", time.perf_counter() - started)
        return outcome
    observe_latency(backend, str(outcome.delivery), time.perf_counter() - started)
    return outcome


def observe_latency(backend: BasePushBackend, outcome: str, seconds: float) -> None:
    try:
        PUSH_LATENCY.labels(backend=type(backend).__name__, outcome=outcome).observe(seconds)
    except Exception:
        logger.exception("could not record a push request's latency")


def combine(
    prompt: ClaimedPrompt, outcomes: Sequence[tuple[str, SendOutcome]], max_attempts: int
) -> PromptResult:
    dead = tuple((token, o.error) for token, o in outcomes if o.token_invalid)
    if any(o.ok for _, o in outcomes):
        return PromptResult(prompt, PromptStatus.DISPATCHED, dead_tokens=dead, definitive=True)
    errors = "; ".join(dict.fromkeys(o.error for _, o in outcomes if o.error))
    if any(o.delivery is Delivery.MISCONFIGURED for _, o in outcomes):
        return PromptResult(
            prompt, PromptStatus.RETRY, errors, dead_tokens=dead, misconfigured=True
        )
    transient = [o for _, o in outcomes if o.delivery is Delivery.TRANSIENT]
    if transient and prompt.attempt < max_attempts:
        retry_after = max((o.retry_after or 0 for o in transient), default=0) or None
        return PromptResult(prompt, PromptStatus.RETRY, errors, retry_after, dead)
    # Out of attempts after a timeout, the last request may still have arrived.
    refused = not transient
    return PromptResult(prompt, PromptStatus.FAILED, errors, dead_tokens=dead, definitive=refused)


class SendPool:
    """At most `size` prompts in flight, each sent on a thread of the pool.

    Daemon threads rather than a ThreadPoolExecutor: a request stuck past
    every timeout must not keep the run, or the process, from ending once the
    run has given up on it.
    """

    def __init__(self, backend: BasePushBackend, size: int, max_attempts: int) -> None:
        self.backend = backend
        self.size = size
        self.max_attempts = max_attempts
        self.in_flight: dict[int, ClaimedPrompt] = {}
        self._jobs: queue.SimpleQueue[tuple[ClaimedPrompt, Sequence[str]] | None] = (
            queue.SimpleQueue()
        )
        self._done: queue.SimpleQueue[PromptResult] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> SendPool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for _ in self._threads:
            self._jobs.put(None)

    @property
    def room(self) -> int:
        return self.size - len(self.in_flight)

    def send(self, prompt: ClaimedPrompt, tokens: Sequence[str]) -> None:
        if len(self._threads) < min(self.size, len(self.in_flight) + 1):
            self._start_thread()
        self.in_flight[prompt.id] = prompt
        self._jobs.put((prompt, tokens))

    def finished(self, timeout: float) -> list[PromptResult]:
        """The results that arrived, waiting at most `timeout` seconds for the first."""
        if not self.in_flight:
            return []
        try:
            results = [self._done.get(timeout=timeout)]
        except queue.Empty:
            return []
        while True:
            try:
                results.append(self._done.get_nowait())
            except queue.Empty:
                break
        for result in results:
            self.in_flight.pop(result.prompt.id, None)
        return results

    def _start_thread(self) -> None:
        thread = threading.Thread(target=self._work, name=f"push-{len(self._threads)}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            prompt, tokens = job
            try:
                result = send_to_devices(self.backend, prompt, tokens, self.max_attempts)
            except Exception as exc:
                logger.exception("sending prompt %s failed unexpectedly", prompt.id)
                result = PromptResult(prompt, PromptStatus.FAILED, f"{type(exc).__name__}: {exc}")
            self._done.put(result)
