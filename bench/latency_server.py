"""The benchmark's push service: a Supabase Edge Function on loopback with a fixed latency.

It is the suite's `LoopbackServer` (tests/loopback.py) run in its own process
(`python -m bench.latency_server`), so its threads do not compete with the
pipeline for the interpreter lock. Every POST to the Edge Function is answered
after the latency: 200, or 400 for a device whose token ends in the rejected
suffix (a permanent failure). GET /stats counts the requests it received.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from django.test import override_settings

from tests.loopback import Answer, LoopbackServer, RecordedRequest, Responder

ROOT = Path(__file__).resolve().parent.parent
# Devices whose token ends so are rejected (HTTP 400): a permanent failure.
BAD_TOKEN_SUFFIX = "-rejected"
FUNCTION_NAME = "dispatch-scenario-prompt"
PUSH_PATH = f"/functions/v1/{FUNCTION_NAME}"
STATS_PATH = "/stats"
SERVICE_ROLE_KEY = "bench-key"


def push_answer(latency: float) -> Responder:
    def answer(request: RecordedRequest) -> Answer:
        body = request.json if isinstance(request.json, dict) else {}
        accepted = not str(body.get("device_token", "")).endswith(BAD_TOKEN_SUFFIX)
        return Answer(200 if accepted else 400, {"ok": accepted}, delay=latency)

    return answer


def stats_answer(server: LoopbackServer) -> Responder:
    def answer(request: RecordedRequest) -> Answer:
        return Answer(200, {"requests": len(server.requests_to(PUSH_PATH))})

    return answer


def serve(latency: float) -> None:
    server = LoopbackServer()
    server.always(PUSH_PATH, push_answer(latency))
    server.always(STATS_PATH, stats_answer(server), method="GET")
    with server:
        print(server.url.rsplit(":", 1)[1], flush=True)
        threading.Event().wait()  # until the benchmark terminates this process


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
    return requests.get(f"{base_url}{STATS_PATH}", timeout=5).json()["requests"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.05)
    serve(parser.parse_args().latency)


if __name__ == "__main__":
    main()
