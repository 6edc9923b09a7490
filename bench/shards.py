"""Dispatch in separate processes: one `run_dispatch` against K `run_dispatch --shard i/K`.

Each process is a real command against the benchmark's database and the
loopback server, as K clusters' workers would run a sharded tick. The rate is
the prompts sent over the time from the first run's start to the last run's
end, read from their DispatchRun rows, so the interpreters' start-up is not
counted (a cluster's worker is up already).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from bench.dispatch import forget_prompts, history_by_status
from bench.latency_server import FUNCTION_NAME, SERVICE_ROLE_KEY, server_stats
from bench.machine import cpu_shares, cpu_ticks
from scheduler.models import DispatchRun, PromptHistory

ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    """The benchmark's database as a DATABASE_URL for a child process."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return (
        f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
        f"/{db['NAME']}"
    )


def child_env(base_url: str, concurrency: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "VIRTUAL_ENV")}
    env.update(
        {
            "ENV_FILE": "",
            "DEBUG": "false",
            "SECRET_KEY": settings.SECRET_KEY,
            "DATABASE_URL": database_url(),
            "DATABASE_POOL": "false",
            "PUSH_BACKEND": "supabase",
            "SUPABASE_URL": base_url,
            "SUPABASE_SERVICE_ROLE_KEY": SERVICE_ROLE_KEY,
            "SUPABASE_FUNCTION_NAME": FUNCTION_NAME,
            "DISPATCH_CONCURRENCY": str(concurrency),
            "DISPATCH_RUN_DEADLINE_SECONDS": "3600",
            "QUIET_HOURS": "",
            "MAX_PROMPTS_PER_MENTOR_PER_DAY": "0",
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


def run_processes(base_url: str, concurrency: int, shards: int) -> dict[str, Any]:
    """Every due prompt sent by `shards` processes at once (1: one plain run)."""
    forget_prompts()
    server_before = server_stats(base_url)
    env = child_env(base_url, concurrency)
    shard_args = [["--shard", f"{i}/{shards}"] for i in range(shards)] if shards > 1 else [[]]
    before = cpu_ticks()
    children_before = children_cpu_seconds()
    processes = [
        subprocess.Popen(
            [sys.executable, "manage.py", "run_dispatch", "--json", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in shard_args
    ]
    errors = [p.communicate()[1] for p in processes]
    cpu = cpu_shares(before, cpu_ticks())
    dispatch_cpu = children_cpu_seconds() - children_before
    server_after = server_stats(base_url)
    received = int(server_after["requests"] - server_before["requests"])
    if any(p.returncode for p in processes):
        raise RuntimeError(f"a dispatch process failed: {errors}")
    runs = list(DispatchRun.objects.order_by("shard_index"))
    sent = sum(r.dispatched + r.failed + r.retrying for r in runs)
    started = min(r.started_at for r in runs)
    finished = max(r.finished_at for r in runs if r.finished_at is not None)
    seconds = (finished - started).total_seconds()
    return {
        "shards": shards,
        "concurrency": concurrency,
        "processes": len(processes),
        "prompts": sent,
        "seconds": round(seconds, 3),
        "prompts_per_second": round(sent / seconds, 1) if seconds else 0.0,
        "runs": [
            {
                "shard": f"{r.shard_index}/{r.shard_count}",
                "sent": r.dispatched + r.failed + r.retrying,
                "seconds": round((r.finished_at - r.started_at).total_seconds(), 3)
                if r.finished_at
                else None,
            }
            for r in runs
        ],
        "history_by_status": history_by_status(),
        "history_rows": PromptHistory.objects.count(),
        "server_requests": received,
        "cpu": cpu,
        # Where the machine's CPU went, per prompt: the dispatch processes (start-up
        # included) and the push service's stand-in, which in production is not ours.
        "dispatch_cpu_ms_per_prompt": round(dispatch_cpu * 1000 / max(sent, 1), 3),
        "server_cpu_ms_per_request": round(
            (server_after["cpu_seconds"] - server_before["cpu_seconds"]) * 1000 / max(received, 1),
            3,
        ),
    }


def children_cpu_seconds() -> float:
    """CPU time of the finished child processes: the dispatch processes just waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
