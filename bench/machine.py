"""What the figures were measured on."""

from __future__ import annotations

import os
import platform
import sqlite3

import django
from django.db import connection


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gb() -> float | None:
    try:
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def cpu_ticks() -> list[int] | None:
    """The machine's CPU time so far by kind (Linux /proc/stat), or None elsewhere."""
    try:
        with open("/proc/stat") as stat:
            return [int(n) for n in stat.readline().split()[1:9]]
    except (OSError, ValueError):
        return None


def cpu_shares(before: list[int] | None, after: list[int] | None) -> dict[str, float] | None:
    """How busy the machine's CPUs were between two `cpu_ticks`, and how much time
    the hypervisor gave to other guests (steal): a run beside a noisy neighbour
    shows it here rather than as a slower pipeline."""
    if before is None or after is None:
        return None
    spent = [b - a for a, b in zip(before, after, strict=True)]
    total = sum(spent) or 1
    idle = spent[3] + spent[4]  # idle, iowait
    return {"busy": round(1 - idle / total, 3), "steal": round(spent[7] / total, 3)}


def database_version() -> str:
    if connection.vendor == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return f"PostgreSQL {cursor.fetchone()[0]}"


def describe_machine() -> dict[str, object]:
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        "memory_gb": memory_gb(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "database": database_version(),
        "database_vendor": connection.vendor,
    }
