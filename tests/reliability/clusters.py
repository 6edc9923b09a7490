"""Real `qcluster` processes ("nodes") sharing the test database, as on several machines.

Every node has the same cluster name and SECRET_KEY as the test process, so
a task the test enqueues may run on any of them. Each node sends to its own
path on the loopback server (`/<node>/functions/v1/...`), so the requests
say which node sent them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from tests.loopback import LoopbackServer
from tests.reliability.children import ROOT, SUPABASE_PATH, child_env


def node_path(name: str) -> str:
    return f"/{name}{SUPABASE_PATH}"


@dataclass
class Node:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def path(self) -> str:
        return node_path(self.name)

    def kill(self) -> None:
        """SIGKILL to every process of the node (master, sentinel, pusher, workers), as a
        machine that loses power."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def end(self) -> None:
        """After the test: at once (a graceful stop of a cluster takes seconds per process)."""
        if self.process.poll() is None:
            self.kill()

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_node(name: str, server: LoopbackServer, folder: Path, **overrides: object) -> Node:
    env = child_env(
        server,
        SECRET_KEY=settings.SECRET_KEY,  # django-q2 signs tasks with it
        SUPABASE_URL=f"{server.url}/{name}",
        Q_WORKERS=1,
        **overrides,
    )
    log_path = folder / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed as one
        )
    return Node(name, process, log_path)


def sends_by_mentor(server: LoopbackServer, nodes: list[Node]) -> Counter[int]:
    return Counter(
        r.json["peer_mentor_id"] for node in nodes for r in server.requests_to(node.path)
    )


def sender_of(server: LoopbackServer, nodes: list[Node], mentor_ids: set[int]) -> set[str]:
    """The nodes that sent a prompt to any of these mentors."""
    return {
        node.name
        for node in nodes
        for r in server.requests_to(node.path)
        if r.json["peer_mentor_id"] in mentor_ids
    }
