"""HTTP requests with one deadline for the whole exchange: the key-set fetch and the ping.

A socket timeout bounds each wait for data, not the answer: a server that sends
a byte every few seconds never trips it and can hold a caller for hours. Here a
timer shuts the connection down when the deadline passes, whatever the request
is doing (sending, reading the status line, the headers or the body), so
neither the caller nor its thread is held longer. Only name resolution is left
to the system resolver's own limits.

Redirects are never followed. Like requests, the environment's proxy
(`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`) and CA bundle (`REQUESTS_CA_BUNDLE`)
are honoured; `~/.netrc` is not read.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import os
import socket
import ssl
import threading
import time
import urllib.request
from dataclasses import dataclass
from urllib.parse import SplitResult, unquote, urlsplit

import certifi


class RequestFailed(Exception):
    """No usable answer: the reason is short and never holds the URL (it may be a secret)."""


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes  # at most the `max_body_bytes` asked for; b"" when none


def request(
    method: str,
    url: str,
    *,
    deadline_seconds: float,
    max_body_bytes: int = 0,
    headers: dict[str, str] | None = None,
) -> Reply:
    """Send one request and read its status and at most `max_body_bytes` of its body.

    Sending and reading end within `deadline_seconds` (connecting is bounded by
    the time left); past it RequestFailed("timed out"). A body longer than `max_body_bytes` is
    RequestFailed("answer too large"); with `max_body_bytes=0` the body is not read.
    """
    deadline = Deadline(deadline_seconds)
    connection, target, extra_headers = open_connection(url, deadline.remaining())
    deadline.watch(connection)
    try:
        connection.connect()
        deadline.check()
        connection.request(method, target, headers={**extra_headers, **(headers or {})})
        response = connection.getresponse()
        body = read_at_most(response, max_body_bytes) if max_body_bytes else b""
        deadline.check()
        return Reply(response.status, body)
    except (OSError, http.client.HTTPException) as exc:
        deadline.check()
        raise RequestFailed(type(exc).__name__) from exc
    finally:
        deadline.cancel()
        connection.close()


def read_at_most(response: http.client.HTTPResponse, limit: int) -> bytes:
    body = response.read(limit + 1)
    if len(body) > limit:
        raise RequestFailed("answer too large")
    return body


class Deadline:
    """Shuts a connection's socket down once `seconds` have passed."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds
        self.passed = threading.Event()
        self._connection: http.client.HTTPConnection | None = None
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def remaining(self) -> float:
        return max(0.001, self.at - time.monotonic())

    def watch(self, connection: http.client.HTTPConnection) -> None:
        self._connection = connection

    def check(self) -> None:
        if self.passed.is_set():
            raise RequestFailed("timed out")

    def cancel(self) -> None:
        self._timer.cancel()

    def _expire(self) -> None:
        self.passed.set()
        sock = getattr(self._connection, "sock", None)
        if sock is None:
            return  # still connecting: its own timeout is the time that was left
        # The plain socket's shutdown, also under TLS: it wakes a read blocked in
        # another thread, where closing the TLS layer from here could crash it.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


def open_connection(
    url: str, timeout: float
) -> tuple[http.client.HTTPConnection, str, dict[str, str]]:
    """An unopened connection for `url` (through the environment's proxy, if any),
    the request target to send and the headers the proxy needs."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RequestFailed("not an http(s) URL")
    host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    target = parts.path or "/"
    if parts.query:
        target += f"?{parts.query}"
    proxy = proxy_for(parts.scheme, host)
    if parts.scheme == "https":
        return https_connection(host, port, proxy, timeout), target, {}
    if proxy is None:
        return http.client.HTTPConnection(host, port, timeout=timeout), target, {}
    # Plain http through a proxy: the whole URL is the request target.
    connection = http.client.HTTPConnection(proxy.hostname or "", proxy.port or 80, timeout=timeout)
    return connection, url, proxy_authorization(proxy)


def https_connection(
    host: str, port: int, proxy: SplitResult | None, timeout: float
) -> http.client.HTTPSConnection:
    context = ssl.create_default_context(cafile=ca_bundle())
    if proxy is None:
        return http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    connection = http.client.HTTPSConnection(
        proxy.hostname or "", proxy.port or 80, timeout=timeout, context=context
    )
    connection.set_tunnel(host, port, headers=proxy_authorization(proxy))
    return connection


def proxy_for(scheme: str, host: str) -> SplitResult | None:
    """The proxy the environment sets for this scheme and host, as split URL parts."""
    proxy = urllib.request.getproxies().get(scheme)
    if not proxy or urllib.request.proxy_bypass(host):
        return None
    return urlsplit(proxy if "://" in proxy else f"http://{proxy}")


def proxy_authorization(proxy: SplitResult) -> dict[str, str]:
    if proxy.username is None:
        return {}
    credentials = f"{unquote(proxy.username)}:{unquote(proxy.password or '')}"
    return {"Proxy-Authorization": f"Basic {base64.b64encode(credentials.encode()).decode()}"}


def ca_bundle() -> str:
    return (
        os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()
    )
