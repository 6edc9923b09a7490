"""Tests: keep every message in `outbox`; script answers per token in `scripted`."""

from __future__ import annotations

import threading
from collections import defaultdict

from scheduler.push.base import BasePushBackend, PushMessage, SendOutcome

outbox: list[PushMessage] = []
# device token -> outcomes to return, in order; once used up, sends are delivered.
scripted: defaultdict[str, list[SendOutcome]] = defaultdict(list)
_lock = threading.Lock()


def reset() -> None:
    with _lock:
        outbox.clear()
        scripted.clear()


class LocmemBackend(BasePushBackend):
    def send(self, message: PushMessage) -> SendOutcome:
        with _lock:
            outbox.append(message)
            answers = scripted.get(message.device_token)
            return answers.pop(0) if answers else SendOutcome.delivered()
