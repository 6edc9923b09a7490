from __future__ import annotations

import sys
import threading
from typing import Any, TextIO

from scheduler.models import masked_token
from scheduler.push.base import BasePushBackend, PushMessage, SendOutcome


class ConsoleBackend(BasePushBackend):
    """Development: print each prompt (to stderr, so `--json` output stays clean)."""

    def __init__(self, *, stream: TextIO | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stream = stream or sys.stderr
        self._lock = threading.Lock()

    def send(self, message: PushMessage) -> SendOutcome:
        line = (
            f"[push] mentor={message.peer_mentor_id} scenario={message.scenario_id} "
            f"prompt={message.prompt_id} device={masked_token(message.device_token)} "
            f"| {message.title}: {message.body}\n"
        )
        with self._lock:
            self.stream.write(line)
            self.stream.flush()
        return SendOutcome.delivered()
