"""A real HTTP server on 127.0.0.1 that records requests and plays scripted answers.

Any suite can use it: start a `LoopbackServer` (a context manager), point a
setting at `server.url`, script answers per route and read `server.requests`.

    with LoopbackServer() as server:
        server.script("/hook", Answer(503), Answer(200, body={"ok": True}))
        server.always("/other", Answer(204))
        ...
        assert server.requests_to("/hook")[0].json == {...}

Unscripted routes answer 404 so a wrong URL shows up as a failure. Each
`Answer` can be slow (`delay`), drop the connection without a reply
(`drop=True`), send its body a byte at a time (`trickle`), or carry any
body (a dict becomes JSON; bytes go out as is, huge or malformed).
`serve_oauth_tokens()` plays Google's OAuth token endpoint.
"""

from __future__ import annotations

import itertools
import json
import socket
import sys
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

Responder = Callable[["RecordedRequest"], "Answer"]


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: Any = b""  # dict/list -> JSON, str -> UTF-8, bytes as they are
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering
    drop: bool = False  # close the connection without any reply
    trickle: float = 0.0  # seconds between the body's bytes, sent one at a time

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        if isinstance(self.body, dict | list):
            headers.setdefault("Content-Type", "application/json")
            return json.dumps(self.body).encode(), headers
        if isinstance(self.body, str):
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
            return self.body.encode(), headers
        return bytes(self.body), headers


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased
    body: bytes
    client_port: int  # the same port for two requests means one reused connection
    received_at: float

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def form(self) -> dict[str, str]:
        return {key: values[-1] for key, values in parse_qs(self.body.decode()).items()}

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class LoopbackServer:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._queues: defaultdict[tuple[str, str], deque[Answer]] = defaultdict(deque)
        self._fallbacks: dict[tuple[str, str], Responder] = {}
        self._in_flight: defaultdict[str, int] = defaultdict(int)
        self._max_in_flight: defaultdict[str, int] = defaultdict(int)
        self._stopping = threading.Event()
        self._tokens = itertools.count(1)
        self._token_paths: set[str] = set()
        self.token_requests = 0  # requests that reached a `serve_oauth_tokens` path
        self._httpd = _QuietServer((host, 0), _handler_for(self))
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LoopbackServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},  # how long stop() waits for the loop to notice
            name="loopback-http",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes answers that are still waiting out a delay
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- scripting ------------------------------------------------------
    def script(self, path: str, *answers: Answer, method: str = "POST") -> None:
        """Queue answers for a route, used once each and in order, before its fallback."""
        with self._lock:
            self._queues[(method, path)].extend(answers)

    def always(self, path: str, answer: Answer | Responder, *, method: str = "POST") -> None:
        """The answer (or a function of the request) once the route's queue is empty."""
        responder = answer if callable(answer) else (lambda request, fixed=answer: fixed)
        with self._lock:
            self._fallbacks[(method, path)] = responder

    def serve_oauth_tokens(
        self, path: str = "/token", *, expires_in: int = 3600, prefix: str = "loopback-access"
    ) -> None:
        """Answer like Google's token endpoint; failures can still be queued with `script`."""

        def issue(request: RecordedRequest) -> Answer:
            body = {
                "access_token": f"{prefix}-{next(self._tokens)}",
                "expires_in": expires_in,
                "token_type": "Bearer",
            }
            return Answer(200, body)

        with self._lock:
            self._token_paths.add(path)
        self.always(path, issue)

    # --- what arrived ---------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str, method: str | None = "POST") -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path and method in (None, r.method)]

    def max_in_flight(self, path: str) -> int:
        """The most requests to `path` the server was handling at the same moment."""
        with self._lock:
            return self._max_in_flight[path]

    def in_flight(self, path: str) -> int:
        """How many requests to `path` the server is handling (answering) right now."""
        with self._lock:
            return self._in_flight[path]

    def wait_for(self, count: int, path: str | None = None, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen = self.requests if path is None else self.requests_to(path, method=None)
            if len(seen) >= count:
                return True
            time.sleep(0.01)
        return False

    # --- used by the handler --------------------------------------------
    def _receive(self, request: RecordedRequest) -> Answer:
        key = (request.method, request.path)
        with self._lock:
            self._requests.append(request)
            self._in_flight[request.path] += 1
            self._max_in_flight[request.path] = max(
                self._max_in_flight[request.path], self._in_flight[request.path]
            )
            queue = self._queues.get(key)
            scripted = queue.popleft() if queue else None
            fallback = self._fallbacks.get(key)
            if request.path in self._token_paths:
                self.token_requests += 1
        if scripted is not None:
            return scripted
        if fallback is not None:
            return fallback(request)
        return Answer(404, {"error": f"nothing scripted for {request.method} {request.path}"})

    def _done(self, path: str) -> None:
        with self._lock:
            self._in_flight[path] -= 1

    def _wait(self, seconds: float) -> None:
        self._stopping.wait(seconds)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True  # a handler still sleeping out a delay never blocks stop()
    request_queue_size = 128  # the default backlog of 5 drops bursts of parallel connects

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-answer (a timeout, a body it stopped reading) is a
        # scripted situation here, not a server error worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _handler_for(server: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, so pooled connections can be observed

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in two writes; without this, Nagle's algorithm
            # and delayed ACKs add ~40 ms to every answer on a kept-alive connection.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            request = RecordedRequest(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
                client_port=self.client_address[1],
                received_at=time.monotonic(),
            )
            answer = server._receive(request)
            try:
                if answer.delay:
                    server._wait(answer.delay)
                if answer.drop:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self._reply(answer)
            except OSError:
                self.close_connection = True  # the client gave up first: nothing to tell it
            finally:
                server._done(request.path)

        def _reply(self, answer: Answer) -> None:
            payload, headers = answer.encoded()
            self.send_response(answer.status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if not answer.trickle:
                self.wfile.write(payload)
                return
            self.wfile.flush()
            for offset in range(len(payload)):
                if server._stopping.is_set():
                    return
                self.wfile.write(payload[offset : offset + 1])
                server._wait(answer.trickle)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the recorded requests are the log

    return Handler


# --- Google service accounts against the loopback ------------------------
def generate_private_key_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def service_account_info(server: LoopbackServer, private_key_pem: bytes) -> dict[str, str]:
    """A service-account key whose token_uri is this server's token endpoint."""
    return {
        "type": "service_account",
        "project_id": "loopback-project",
        "private_key_id": "loopback-key-1",
        "private_key": private_key_pem.decode(),
        "client_email": "push-sender@loopback-project.iam.gserviceaccount.com",
        "client_id": "100000000000000000001",
        "token_uri": f"{server.url}/token",
    }


GOOGLE_ACCESS_BOUNDARY_PATH = "/google/allowed-locations"


def keep_google_auth_local(monkeypatch: Any, server: LoopbackServer) -> None:
    """google-auth looks up a service account's access boundary in the background after
    each token refresh; send that lookup here instead of to iamcredentials.googleapis.com."""
    # No public seam in google-auth 2.62: GOOGLE_AUTH_TRUST_BOUNDARY_ENABLED and trust_boundary=
    # are ignored, and a non-default universe_domain skips the lookup only by skipping OAuth too.
    from google.auth import _regional_access_boundary_utils as boundary

    monkeypatch.setattr(
        boundary,
        "get_service_account_rab_endpoint",
        lambda email: f"{server.url}{GOOGLE_ACCESS_BOUNDARY_PATH}",
    )
    server.always(GOOGLE_ACCESS_BOUNDARY_PATH, Answer(404, {}), method="GET")
