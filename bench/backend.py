"""A push backend for the benchmark: one pooled `requests.Session` to the loopback server."""

from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter

from scheduler.push.base import BasePushBackend, PushMessage, SendOutcome


class LoopbackBackend(BasePushBackend):
    def __init__(self, *, url: str, concurrency: int = 1, **kwargs: object) -> None:
        super().__init__(concurrency=concurrency, **kwargs)
        self.url = url
        self.session: requests.Session | None = None

    def open(self) -> None:
        self.session = requests.Session()
        # One connection per worker thread, kept alive across prompts.
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max(self.concurrency, 1))
        self.session.mount("http://", adapter)

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None

    def send(self, message: PushMessage) -> SendOutcome:
        if self.session is None:
            self.open()
        assert self.session is not None
        payload = {
            "peer_mentor_id": message.peer_mentor_id,
            "scenario_id": message.scenario_id,
            "device_token": message.device_token,
        }
        try:
            response = self.session.post(self.url, json=payload, timeout=(3.05, 10))
        except requests.RequestException as exc:
            return SendOutcome.transient(f"{type(exc).__name__}: {exc}")
        if response.ok:
            return SendOutcome.delivered()
        if response.status_code == 429 or response.status_code >= 500:
            return SendOutcome.transient(f"HTTP {response.status_code}")
        return SendOutcome.permanent(f"HTTP {response.status_code}")
