"""`manage.py bench_dispatch`: installed with the bench app (DEBUG or BENCH on)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connection

from bench import database
from bench.report import format_escalation_report, format_report
from bench.runner import Options, run_benchmark

RESULTS_DIR = Path(settings.BASE_DIR) / "bench-results"


def int_list(value: str) -> list[int]:
    try:
        numbers = [int(part.replace("_", "")) for part in value.split(",") if part.strip()]
    except ValueError:
        raise CommandError(f"Expected comma-separated whole numbers, got {value!r}.") from None
    if not numbers or min(numbers) < 1:
        raise CommandError(f"Expected positive whole numbers, got {value!r}.")
    return numbers


class Command(BaseCommand):
    help = (
        "Benchmark evaluation (vs a naive design and a SQL floor), dispatch throughput and "
        "peak memory on the database in DATABASE_URL. It wipes the scheduler tables there."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sizes", default="10000,100000,1000000", help="Activity counts.")
        parser.add_argument("--scenarios", type=int, default=10, help="Enabled scenarios.")
        parser.add_argument("--history-fraction", type=float, default=0.2)
        parser.add_argument("--naive-sample", type=int, default=2000, metavar="ACTIVITIES")
        parser.add_argument("--repeat", type=int, default=3, help="Timed runs; the best counts.")
        parser.add_argument("--dispatch-prompts", type=int, default=10_000)
        parser.add_argument(
            "--dispatch-repeat",
            type=int,
            default=3,
            help="Dispatch runs at each concurrency; the median counts.",
        )
        parser.add_argument("--latency-ms", type=float, default=50.0)
        parser.add_argument("--concurrency", default="16,64")
        parser.add_argument(
            "--send-then-save-sample",
            type=int,
            default=300,
            metavar="PROMPTS",
            help="Prompts sent by the one-at-a-time baseline.",
        )
        parser.add_argument(
            "--dry-run-size",
            type=int,
            default=200_000,
            metavar="ACTIVITIES",
            help="Activities for timing run_dispatch --dry-run --json against its floor (0: skip).",
        )
        parser.add_argument(
            "--escalation-history",
            type=int,
            default=1_000_000,
            metavar="PROMPTS",
            help="History rows for timing the escalation step against its floor (0: skip).",
        )
        parser.add_argument(
            "--only-escalation", action="store_true", help="Measure the escalation step only."
        )
        parser.add_argument(
            "--dense-dry-run-size",
            type=int,
            default=200_000,
            metavar="ACTIVITIES",
            help="Activities within six weeks (about a quarter due) for the same dry-run "
            "timing (0: skip).",
        )
        parser.add_argument(
            "--shards",
            default="1,2",
            help="Shard counts for dispatch in separate processes, each against the others "
            "(empty: skip).",
        )
        parser.add_argument("--shard-concurrency", type=int, default=64)
        parser.add_argument("--json", metavar="PATH", help="Also write the figures as JSON.")
        parser.add_argument(
            "--profile", action="store_true", help="cProfile the largest evaluation."
        )
        parser.add_argument(
            "--create-database",
            action="store_true",
            help="On PostgreSQL, create the DATABASE_URL database if it is missing.",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Wipe the scheduler tables even if they hold data the benchmark did not create.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["dispatch_repeat"] < 1:
            raise CommandError("--dispatch-repeat must be at least 1.")
        bench_options = Options(
            sizes=int_list(options["sizes"]),
            scenarios=options["scenarios"],
            history_fraction=options["history_fraction"],
            naive_sample=options["naive_sample"],
            repeat=options["repeat"],
            dispatch_prompts=options["dispatch_prompts"],
            dispatch_repeat=options["dispatch_repeat"],
            latency_ms=options["latency_ms"],
            concurrencies=int_list(options["concurrency"]),
            send_then_save_sample=options["send_then_save_sample"],
            dry_run_size=options["dry_run_size"],
            escalation_history=options["escalation_history"],
            only_escalation=options["only_escalation"],
            dense_dry_run_size=options["dense_dry_run_size"],
            shard_counts=int_list(options["shards"]) if options["shards"].strip() else (),
            shard_concurrency=options["shard_concurrency"],
            profile_dir=RESULTS_DIR if options["profile"] else None,
        )
        self.prepare_database(create=options["create_database"], force=options["force"])
        results = run_benchmark(bench_options, say=lambda m: sys.stderr.write(m + "\n"))
        report = format_escalation_report if options["only_escalation"] else format_report
        self.stdout.write(report(results))
        if options["json"]:
            path = Path(options["json"])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(results, indent=2, default=str))
            sys.stderr.write(f"figures written to {path}\n")

    def prepare_database(self, *, create: bool, force: bool) -> None:
        if connection.vendor == "postgresql":
            self.ensure_postgres_database(connection.settings_dict, create=create)
        try:
            refusals = database.reasons_to_refuse()
        except DatabaseError as exc:
            raise CommandError(f"Database unreachable: {exc}") from None
        if refusals and not force:
            raise CommandError(
                f"Refusing to wipe {connection.settings_dict['NAME']}: "
                f"{'; '.join(refusals)}. Point DATABASE_URL at a benchmark database or pass --force."
            )
        call_command("migrate", interactive=False, verbosity=0)

    def ensure_postgres_database(self, settings_dict: dict[str, Any], *, create: bool) -> None:
        try:
            exists = database.postgres_database_exists(settings_dict)
        except Exception as exc:
            raise CommandError(f"PostgreSQL unreachable: {exc}") from None
        if exists:
            return
        if not create:
            raise CommandError(
                f"Database {settings_dict['NAME']} does not exist; pass --create-database."
            )
        database.create_postgres_database(settings_dict)
        sys.stderr.write(f"created database {settings_dict['NAME']}\n")
