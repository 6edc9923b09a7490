"""The benchmark's push service: a Supabase Edge Function on loopback with a fixed latency.

It runs in its own process (`python -m bench.latency_server`) and answers on
one asyncio loop: no thread per connection, and a request costs it tens of
microseconds. The real service runs on someone else's machines; a stand-in
that spent a third of a millisecond per request (as the suite's threaded
`LoopbackServer` does) would take CPU from the pipeline it measures, most of
all when several dispatch processes share this machine's two cores.

Every POST to the Edge Function is answered after the latency: 200, or 400
for a device whose token ends in the rejected suffix (a permanent failure).
GET /stats counts the requests it received and the CPU time it has used.
HTTP/1.1 with keep-alive, bodies by Content-Length only: what urllib3 sends,
and nothing more.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from django.test import override_settings

ROOT = Path(__file__).resolve().parent.parent
# Devices whose token ends so are rejected (HTTP 400): a permanent failure.
BAD_TOKEN_SUFFIX = "-rejected"
FUNCTION_NAME = "dispatch-scenario-prompt"
PUSH_PATH = f"/functions/v1/{FUNCTION_NAME}"
STATS_PATH = "/stats"
SERVICE_ROLE_KEY = "bench-key"
MAX_HEAD = 64 * 1024
MAX_BODY = 1024 * 1024


def response(status: int, reason: str, body: dict[str, object]) -> bytes:
    data = json.dumps(body).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


ACCEPTED = response(200, "OK", {"ok": True})
REJECTED = response(400, "Bad Request", {"ok": False})
NOT_FOUND = response(404, "Not Found", {"error": "not found"})


class PushService(asyncio.Protocol):
    """One connection: requests parsed from the buffer as they complete, answered in order."""

    received = 0  # push requests, over every connection

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.transport is not None and (request := self.next_request()) is not None:
            self.answer(*request)

    def next_request(self) -> tuple[str, str, bytes] | None:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > MAX_HEAD:
                self.close()
            return None
        head = self.buffer[:end].decode("latin-1").split("\r\n")
        length = 0
        for line in head[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip()) if value.strip().isdigit() else MAX_BODY + 1
        if length > MAX_BODY:
            self.close()
            return None
        if len(self.buffer) < end + 4 + length:
            return None
        body = self.buffer[end + 4 : end + 4 + length]
        self.buffer = self.buffer[end + 4 + length :]
        method, path, *_ = [*head[0].split(" "), "", ""]
        return method, path, body

    def answer(self, method: str, path: str, body: bytes) -> None:
        # Every push waits the same latency, so the timers fire in the order the
        # requests came and a connection's answers stay in order. /stats is asked
        # only between runs, when no push is waiting.
        assert self.transport is not None
        if method == "POST" and path == PUSH_PATH:
            PushService.received += 1
            answer = REJECTED if BAD_TOKEN_SUFFIX.encode() + b'"' in body else ACCEPTED
            asyncio.get_running_loop().call_later(self.latency, self.write, answer)
        elif method == "GET" and path == STATS_PATH:
            stats = {"requests": PushService.received, "cpu_seconds": time.process_time()}
            self.write(response(200, "OK", stats))
        else:
            self.write(NOT_FOUND)

    def write(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        self.transport = None

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def serve(latency: float) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: PushService(latency), "127.0.0.1", 0, backlog=1024, reuse_address=True
    )
    port = server.sockets[0].getsockname()[1]
    print(port, flush=True)
    async with server:
        await server.serve_forever()  # until the benchmark terminates this process


@contextmanager
def latency_server(latency: float) -> Iterator[str]:
    """Start the server process; yields its base URL and stops it afterwards."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.latency_server", "--latency", str(latency)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.strip().isdigit():
            raise RuntimeError("the loopback server did not start")
        yield f"http://127.0.0.1:{int(line)}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def supabase_settings(base_url: str) -> override_settings:
    """Settings under which the pipeline sends through the real Supabase backend to `base_url`."""
    return override_settings(
        PUSH_BACKEND="supabase",
        SUPABASE_URL=base_url,
        SUPABASE_SERVICE_ROLE_KEY=SERVICE_ROLE_KEY,
        SUPABASE_FUNCTION_NAME=FUNCTION_NAME,
    )


def requests_received(base_url: str) -> int:
    return server_stats(base_url)["requests"]


def server_stats(base_url: str) -> dict[str, float]:
    return requests.get(f"{base_url}{STATS_PATH}", timeout=5).json()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.05)
    asyncio.run(serve(parser.parse_args().latency))


if __name__ == "__main__":
    main()
