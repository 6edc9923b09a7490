"""A loopback push endpoint that answers every POST after a fixed latency.

It runs in its own process (`python -m bench.latency_server`) so its threads
do not compete with the pipeline for the interpreter lock. It rejects devices
whose token ends in the benchmark's "rejected" suffix with 400, and counts
the requests it answered (GET /stats).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
# Devices whose token ends so are rejected (HTTP 400): a permanent failure.
BAD_TOKEN_SUFFIX = "-rejected"


class Counts:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accepted = 0
        self.rejected = 0

    def add(self, accepted: bool) -> None:
        with self.lock:
            if accepted:
                self.accepted += 1
            else:
                self.rejected += 1


def make_handler(latency: float, counts: Counts) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, so the client's pool is exercised
        # Headers and body go out in two writes; with Nagle on, the client's
        # delayed ACK would add ~40 ms to every answer.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            time.sleep(latency)
            token = json.loads(body or b"{}").get("device_token", "")
            accepted = not token.endswith(BAD_TOKEN_SUFFIX)
            counts.add(accepted)
            self.answer(200 if accepted else 400, {"ok": accepted})

        def do_GET(self) -> None:
            with counts.lock:
                self.answer(200, {"accepted": counts.accepted, "rejected": counts.rejected})

        def answer(self, status: int, payload: dict[str, object]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def serve(latency: float) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(latency, Counts()))
    server.daemon_threads = True
    server.request_queue_size = 256
    print(server.server_address[1], flush=True)
    server.serve_forever()


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
        port = int(line)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def server_counts(base_url: str) -> dict[str, int]:
    return requests.get(f"{base_url}/stats", timeout=5).json()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.05)
    serve(parser.parse_args().latency)


if __name__ == "__main__":
    main()
