"""The benchmark command end to end at a tiny size: every figure present and sane.

It runs `manage.py bench_dispatch` in its own process on its own SQLite file,
because the command wipes the scheduler tables of the database it is given,
and with BENCH=true, because only then is the bench app (and its command) installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROMPTS = 100


def run_bench(database: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "SECRET_KEY": "smoke",
        "BENCH": "true",
    }
    return subprocess.run(
        [sys.executable, "manage.py", "bench_dispatch", *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def figures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    directory = tmp_path_factory.mktemp("bench")
    out = directory / "figures.json"
    done = run_bench(
        directory / "bench.sqlite3",
        "--sizes=200,400",
        f"--dispatch-prompts={PROMPTS}",
        "--latency-ms=5",
        "--naive-sample=50",
        "--send-then-save-sample=10",
        "--dry-run-size=300",
        "--escalation-history=2000",
        "--dense-dry-run-size=400",
        "--repeat=1",
        "--dispatch-repeat=2",
        f"--json={out}",
    )
    assert done.returncode == 0, done.stderr
    return {"json": json.loads(out.read_text()), "stdout": done.stdout}


def test_it_times_the_escalation_step_against_its_floor(figures: dict[str, Any]) -> None:
    figure = figures["json"]["escalation"]
    assert figure["history"] == 2000
    assert figure["escalated"] > 0
    assert figure["floor_agrees"] is True
    assert figure["step_seconds"] > 0 and figure["floor_seconds"] > 0
    names = [t["name"] for t in figures["json"]["targets"]]
    assert "escalation step at 2,000 history rows" in names


def test_it_reports_the_machine(figures: dict[str, Any]) -> None:
    machine = figures["json"]["machine"]
    assert machine["cpu_count"] >= 1
    assert machine["python"].startswith("3.")
    assert machine["database"].startswith("SQLite")


def test_it_measures_every_size_against_naive_and_floor(figures: dict[str, Any]) -> None:
    sizes = figures["json"]["evaluation"]
    assert [f["activities"] for f in sizes] == [200, 400]
    for f in sizes:
        assert f["due"] > 0
        assert f["already_prompted"] > 0
        assert f["admitted"] + f["held"] + f["already_prompted"] == f["due"]
        assert f["evaluation_seconds"] > 0 and f["floor_seconds"] > 0
        assert f["naive_estimated_seconds"] > f["naive_sample_seconds"] > 0
        assert f["naive_sample_queries"] == 2 * f["naive_sample"] + 1


def test_it_finds_the_same_prompts_as_naive_and_floor(figures: dict[str, Any]) -> None:
    for f in figures["json"]["evaluation"]:
        assert f["floor_agrees"] is True
        assert f["naive_agrees"] is True


def test_it_reads_peak_memory_in_a_fresh_process_per_size(figures: dict[str, Any]) -> None:
    for f in figures["json"]["evaluation"]:
        for probe in (f["rss_stream"], f["rss_dry_run"]):
            assert probe["peak_kb"] >= probe["baseline_kb"] > 10_000
            assert probe["admitted"] == f["admitted"]


def test_it_times_the_dry_run_command_against_a_floor_printing_the_same(
    figures: dict[str, Any],
) -> None:
    dry = figures["json"]["dry_run"]
    assert dry["activities"] == 300 and dry["prompts"] > 0
    assert dry["floor_agrees"] is True
    assert dry["command_seconds"] > 0 and dry["floor_seconds"] > 0
    assert "run_dispatch --dry-run --json at 300 activities (sparse" in figures["stdout"]


def test_it_times_the_dry_run_on_a_dense_set_too(figures: dict[str, Any]) -> None:
    sparse, dense = figures["json"]["dry_run"], figures["json"]["dense_dry_run"]
    assert (dense["activities"], dense["data_set"]) == (400, "dense")
    assert dense["floor_agrees"] is True
    # The same kind of data within ten weeks: several times the share of activities due.
    assert dense["due"] / 400 > 3 * sparse["due"] / 300
    assert "run_dispatch --dry-run --json at 400 activities (dense" in figures["stdout"]


def test_it_dispatches_in_one_process_and_in_two_shard_processes(figures: dict[str, Any]) -> None:
    sharded = figures["json"]["dispatch"]["shards"]
    assert sharded["concurrency"] == 64
    one, two = sharded["figures"]
    assert (one["shards"], two["shards"]) == (1, 2)
    for figure in (one, two):
        assert figure["history_as_expected"] is True
        assert len(figure["rounds"]) == 2 and figure["prompts_per_second"] > 0
        assert all(r["cpu"] is None or 0 <= r["cpu"]["busy"] <= 1 for r in figure["rounds"])
        # Each dispatch process costs at least its start-up; the stand-in far less per request.
        assert all(r["dispatch_cpu_ms_per_prompt"] > 0 for r in figure["rounds"])
        assert all(0 <= r["server_cpu_ms_per_request"] < 100 for r in figure["rounds"])
    assert [run["shard"] for run in two["rounds"][0]["runs"]] == ["0/2", "1/2"]
    assert sum(run["sent"] for run in two["rounds"][0]["runs"]) == PROMPTS
    assert one["vs_one_process"] == 1.0 and two["vs_one_process"] > 0
    assert "Dispatch in separate processes" in figures["stdout"]


def test_it_dispatches_through_the_pipeline_with_a_history_row_per_prompt(
    figures: dict[str, Any],
) -> None:
    dispatch = figures["json"]["dispatch"]
    assert [run["concurrency"] for run in dispatch["runs"]] == [16, 64]
    for run in dispatch["runs"]:
        assert run["history_as_expected"] is True
        assert run["history_rows_of_run"] == run["server_requests"] == PROMPTS
        assert run["history_by_status"]["failed"] == dispatch["expected_history"]["failed"] > 0
        assert 0 < run["prompts_per_second"] <= run["bound_per_second"] * 1.05
        # Two runs each: the figure is the lower middle of the two, an actual run.
        shares = [r["fraction_of_bound"] for r in run["repeats"]]
        assert len(shares) == 2 and run["fraction_of_bound"] == min(shares)
    baseline = dispatch["send_then_save"]
    assert baseline["history_rows"] == baseline["prompts"] == 10
    assert 0 < baseline["prompts_per_second"] < dispatch["runs"][0]["prompts_per_second"]


def test_it_states_each_target_met_or_missed(figures: dict[str, Any]) -> None:
    targets = figures["json"]["targets"]
    assert [t["name"] for t in targets] == [
        "evaluation vs naive at 400",
        "evaluation vs floor at 400",
        "peak RSS 400 vs 200",
        "dry run --json at 300 (sparse)",
        "dry run --json at 400 (dense)",
        "dispatch with 2 shards in separate processes",
        "escalation step at 2,000 history rows",
        "dispatch at concurrency 16",
        "dispatch at concurrency 64",
    ]
    assert all(isinstance(t["met"], bool) and t["value"] is not None for t in targets)
    assert "Targets" in figures["stdout"]


def test_it_refuses_a_database_with_data_it_did_not_create(tmp_path: Path) -> None:
    database = tmp_path / "other.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "SECRET_KEY": "smoke"}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from scheduler.models import Chapter; Chapter.objects.create(name='Oslo')",
        ],
        cwd=ROOT,
        env=env,
        check=True,
    )
    done = run_bench(database, "--sizes=10", "--dispatch-prompts=4")
    assert done.returncode != 0
    assert "Refusing to wipe" in done.stderr
    assert "chapters not created by the benchmark" in done.stderr


def test_it_is_installed_only_with_debug_or_bench(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'none.sqlite3'}",
        "SECRET_KEY": "smoke",
        "DEBUG": "false",
        "BENCH": "false",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "bench_dispatch", "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert "Unknown command: 'bench_dispatch'" in done.stderr


def test_it_refuses_fewer_than_one_dispatch_run(tmp_path: Path) -> None:
    done = run_bench(tmp_path / "bench.sqlite3", "--sizes=10", "--dispatch-repeat=0")
    assert done.returncode != 0
    assert "--dispatch-repeat must be at least 1" in done.stderr


def test_it_tells_the_machine_busy_share_and_the_steal_apart() -> None:
    from bench.machine import cpu_shares

    # user, nice, system, idle, iowait, irq, softirq, steal
    before = [100, 0, 50, 800, 10, 0, 0, 40]
    after = [200, 0, 100, 890, 20, 0, 0, 90]  # 100 user, 50 system, 100 idle, 50 steal
    assert cpu_shares(before, after) == {"busy": 0.667, "steal": 0.167}
    assert cpu_shares(None, after) is None
