"""The benchmark's stand-in push service: answers in order on a kept-alive connection."""

from __future__ import annotations

import http.client
import json
import re
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from bench.latency_server import PUSH_PATH, latency_server, server_stats

LATENCY = 0.05


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with latency_server(LATENCY) as url:
        yield url


def post(connection: http.client.HTTPConnection, token: str) -> tuple[int, dict[str, object]]:
    connection.request(
        "POST",
        PUSH_PATH,
        body=json.dumps({"device_token": token}).encode(),
        headers={"Content-Type": "application/json"},
    )
    answer = connection.getresponse()
    return answer.status, json.loads(answer.read())


def test_it_answers_after_the_latency_and_rejects_the_bad_suffix(base_url: str) -> None:
    connection = http.client.HTTPConnection(urlsplit(base_url).netloc, timeout=5)
    before = server_stats(base_url)["requests"]
    started = time.monotonic()
    assert post(connection, "device-1") == (200, {"ok": True})
    assert time.monotonic() - started >= LATENCY
    # The same connection, kept alive, for the next request.
    assert post(connection, "device-2-rejected") == (400, {"ok": False})
    assert server_stats(base_url)["requests"] == before + 2
    connection.close()


def test_it_answers_pipelined_requests_in_order(base_url: str) -> None:
    host, port = urlsplit(base_url).netloc.split(":")
    bodies = [json.dumps({"device_token": t}).encode() for t in ("a-rejected", "b", "c")]
    raw = b"".join(
        f"POST {PUSH_PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(b)}\r\n\r\n".encode() + b
        for b in bodies
    )
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(raw)
        received = b""
        while received.count(b"HTTP/1.1") < 3 or not received.endswith(b"}"):
            chunk = sock.recv(4096)
            assert chunk, f"closed after {received!r}"
            received += chunk
    statuses = re.findall(rb"HTTP/1.1 (\d{3})", received)
    assert statuses == [b"400", b"200", b"200"]


def test_it_answers_an_unknown_path_with_404_and_closes_on_a_bad_length(base_url: str) -> None:
    connection = http.client.HTTPConnection(urlsplit(base_url).netloc, timeout=5)
    connection.request("GET", "/nowhere")
    assert connection.getresponse().status == 404
    host, port = urlsplit(base_url).netloc.split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(f"POST {PUSH_PATH} HTTP/1.1\r\nContent-Length: lots\r\n\r\n".encode())
        assert sock.recv(4096) == b""  # closed, nothing answered
