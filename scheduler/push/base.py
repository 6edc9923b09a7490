from __future__ import annotations

import enum
from dataclasses import dataclass
from types import TracebackType


@dataclass(frozen=True)
class PushMessage:
    """Everything that leaves the system for one device: ids and fixed text only."""

    prompt_id: int | None
    peer_mentor_id: int
    scenario_id: int
    device_token: str
    title: str
    body: str


class Delivery(enum.StrEnum):
    DELIVERED = "delivered"
    PERMANENT = "permanent"  # retrying will not help
    TRANSIENT = "transient"  # try again later
    # Our side is wrong (key, URL, project): no send can succeed until someone fixes it.
    MISCONFIGURED = "misconfigured"


@dataclass(frozen=True)
class SendOutcome:
    delivery: Delivery
    error: str = ""
    retry_after: float | None = None
    # The push service says this device token is dead: stop using it.
    token_invalid: bool = False

    @classmethod
    def delivered(cls) -> SendOutcome:
        return cls(Delivery.DELIVERED)

    @classmethod
    def permanent(cls, error: str, *, token_invalid: bool = False) -> SendOutcome:
        return cls(Delivery.PERMANENT, error, token_invalid=token_invalid)

    @classmethod
    def misconfigured(cls, error: str) -> SendOutcome:
        return cls(Delivery.MISCONFIGURED, error)

    @classmethod
    def transient(cls, error: str, *, retry_after: float | None = None) -> SendOutcome:
        return cls(Delivery.TRANSIENT, error, retry_after=retry_after)

    @property
    def ok(self) -> bool:
        return self.delivery is Delivery.DELIVERED


class BasePushBackend:
    """One transport. `send` must not raise for delivery problems: it returns an outcome.

    `open`/`close` bracket a run so a backend can hold pooled connections;
    `send` is called from several threads at once.
    """

    def __init__(self, *, concurrency: int = 1, **kwargs: object) -> None:
        self.concurrency = concurrency

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def send(self, message: PushMessage) -> SendOutcome:
        raise NotImplementedError

    def __enter__(self) -> BasePushBackend:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
