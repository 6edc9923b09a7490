from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client

from scheduler.api import auth, throttle
from scheduler.models import PeerMentor
from tests import factories
from tests.api.keys import JWKS_PATH, SigningKey, claims_for
from tests.loopback import Answer, LoopbackServer, RecordedRequest


@pytest.fixture(scope="session")
def es_key() -> SigningKey:
    return SigningKey.es256()


@pytest.fixture(scope="session")
def rs_key() -> SigningKey:
    return SigningKey.rs256()


@pytest.fixture(scope="session")
def spare_key() -> SigningKey:
    """A key the project never published."""
    return SigningKey.es256()


@dataclass
class KeySetServer:
    """A loopback Supabase Auth that publishes `keys`, or fails with `failing_status`."""

    server: LoopbackServer
    keys: list[SigningKey] = field(default_factory=list)
    failing_status: int | None = None
    trickle: float = 0.0  # seconds between the bytes of the answer

    def settled(self) -> bool:
        """Wait (a few seconds at most) until the key set's fetch in the background ended."""
        return auth.key_set().wait_for_fetch(timeout=10)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def issuer(self) -> str:
        return f"{self.server.url}/auth/v1"

    @property
    def fetches(self) -> int:
        return len(self.server.requests_to(JWKS_PATH, method="GET"))

    def answer(self, request: RecordedRequest) -> Answer:
        if self.failing_status is not None:
            return Answer(self.failing_status, {"message": "unavailable"})
        return Answer(200, {"keys": [key.jwk() for key in self.keys]}, trickle=self.trickle)

    def token(self, user_id: uuid.UUID | str, key: SigningKey, **claims: Any) -> str:
        return key.sign(claims_for(user_id, self.issuer, **claims))


@pytest.fixture
def key_server(settings: Any, es_key: SigningKey, rs_key: SigningKey) -> Iterator[KeySetServer]:
    with LoopbackServer() as server:
        published = KeySetServer(server, [es_key, rs_key])
        server.always(JWKS_PATH, published.answer, method="GET")
        settings.SUPABASE_URL = server.url
        settings.SUPABASE_JWT_SECRET = ""
        settings.SUPABASE_JWKS_CACHE_SECONDS = 600
        auth.forget_keys()
        yield published
        auth.forget_keys()


@pytest.fixture(autouse=True)
def fresh_throttle(settings: Any) -> Iterator[None]:
    # Tests sending many bad tokens on purpose (the key set's) are not about the
    # address budget; the tests of that budget set their own.
    settings.API_AUTH_FAILURE_RATE = "1000/m"
    forget_counts()
    yield
    forget_counts()


def forget_counts() -> None:
    throttle.throttle_cache().clear()
    throttle.remembered.clear()


@dataclass
class App:
    """The mobile app of one mentor: a client that sends their access token."""

    mentor: PeerMentor
    token: str
    client: Client = field(default_factory=Client)

    def call(self, method: str, path: str, body: Any = None, **query: str) -> Any:
        kwargs: dict[str, Any] = {"headers": {"Authorization": f"Bearer {self.token}"}}
        if body is not None:
            kwargs.update(data=body, content_type="application/json")
        if query:
            kwargs["QUERY_STRING"] = "&".join(f"{k}={v}" for k, v in query.items())
        return getattr(self.client, method)(f"/api/v1{path}", **kwargs)

    def get(self, path: str, **query: str) -> Any:
        return self.call("get", path, **query)

    def post(self, path: str, body: Any = None) -> Any:
        return self.call("post", path, body)

    def patch(self, path: str, body: Any) -> Any:
        return self.call("patch", path, body)

    def delete(self, path: str) -> Any:
        return self.call("delete", path)


def app_for(key_server: KeySetServer, key: SigningKey, **mentor_fields: Any) -> App:
    user_id = uuid.uuid4()
    mentor = factories.mentor(tokens=0, auth_user_id=user_id, **mentor_fields)
    return App(mentor, key_server.token(user_id, key))


@pytest.fixture
def app(db: None, key_server: KeySetServer, es_key: SigningKey) -> App:
    return app_for(key_server, es_key)


@pytest.fixture
def other_app(db: None, key_server: KeySetServer, rs_key: SigningKey) -> App:
    return app_for(key_server, rs_key)
