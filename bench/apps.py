from __future__ import annotations

from django.apps import AppConfig


class BenchConfig(AppConfig):
    """The dispatch benchmark: installed only when DEBUG or BENCH is on."""

    name = "bench"
    verbose_name = "Dispatch benchmark"
