from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType

from django.conf import settings
from django.core.checks import CheckMessage, Error
from django.core.exceptions import ImproperlyConfigured


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
    `send` is called from several threads at once. Like Django's mail backends,
    a backend takes its configuration as constructor arguments that fall back
    to settings.
    """

    # Settings that must not be empty when the backend is selected (and not given as arguments).
    required_settings: tuple[str, ...] = ()

    def __init__(self, *, concurrency: int = 1, **kwargs: object) -> None:
        self.concurrency = concurrency

    @classmethod
    def check(cls) -> list[CheckMessage]:
        """System-check messages about this backend's settings; [] when it can work."""
        return [
            Error(
                f"PUSH_BACKEND is {settings.PUSH_BACKEND!r} but {name} is not set.",
                hint=f"Set {name} in the environment or .env.",
                id="scheduler.E002",
            )
            for name in cls.missing_settings()
        ]

    @classmethod
    def missing_settings(cls) -> list[str]:
        return [name for name in cls.required_settings if not is_set(getattr(settings, name, ""))]

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def send(self, message: PushMessage) -> SendOutcome:
        raise NotImplementedError

    def __enter__(self) -> BasePushBackend:
        try:
            self.open()
        except BaseException:
            self.close()  # whatever open() got before it failed
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def require(backend: str, given: Mapping[str, object]) -> None:
    """Refuse to build `backend` while a required value (by setting name) is empty."""
    missing = [name for name, value in given.items() if not is_set(value)]
    if missing:
        raise ImproperlyConfigured(f"The {backend} push backend needs {', '.join(missing)}.")


def is_set(value: object) -> bool:
    return value is not None and bool(str(value).strip())
