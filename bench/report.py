"""Targets (met or missed) and the human-readable table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

NAIVE_SPEEDUP_TARGET = 50.0
FLOOR_RATIO_TARGET = 1.5
BOUND_FRACTION_TARGET = 0.8
SHARD_SPEEDUP_TARGET = 1.6
RSS_GROWTH_TARGET = 1.3
DISPATCH_TARGET_CONCURRENCIES = (16, 64)


def target(name: str, goal: str, value: float | None, met: bool, detail: str) -> dict[str, Any]:
    return {"name": name, "target": goal, "value": value, "met": met, "detail": detail}


def targets(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    sizes: Sequence[Mapping[str, Any]] = results.get("evaluation", [])
    if sizes:
        largest = max(sizes, key=lambda f: f["activities"])
        smallest = min(sizes, key=lambda f: f["activities"])
        n = f"{largest['activities']:,}"
        speedup = largest["naive_speedup"]
        found.append(
            target(
                f"evaluation vs naive at {n}",
                f">= {NAIVE_SPEEDUP_TARGET:g}x faster",
                speedup,
                speedup >= NAIVE_SPEEDUP_TARGET and largest["naive_agrees"],
                f"{largest['naive_estimated_seconds']}s naive (est.) vs "
                f"{largest['evaluation_seconds']}s; same prompts: {largest['naive_agrees']}",
            )
        )
        ratio = largest["vs_floor"]
        found.append(
            target(
                f"evaluation vs floor at {n}",
                f"<= {FLOOR_RATIO_TARGET:g}x the floor",
                ratio,
                ratio <= FLOOR_RATIO_TARGET and largest["floor_agrees"],
                f"{largest['evaluation_seconds']}s vs {largest['floor_seconds']}s floor; "
                f"same prompts: {largest['floor_agrees']}",
            )
        )
        growth = largest["rss_stream"]["peak_kb"] / smallest["rss_stream"]["peak_kb"]
        found.append(
            target(
                f"peak RSS {n} vs {smallest['activities']:,}",
                f"<= {RSS_GROWTH_TARGET:g}x",
                round(growth, 3),
                growth <= RSS_GROWTH_TARGET,
                f"{mb(largest['rss_stream']['peak_kb'])} vs {mb(smallest['rss_stream']['peak_kb'])}"
                " (streamed evaluation)",
            )
        )
    for key in ("dry_run", "dense_dry_run"):
        dry = results.get(key)
        if not dry:
            continue
        found.append(
            target(
                f"dry run --json at {dry['activities']:,} ({dry.get('data_set', 'sparse')})",
                f"<= {FLOOR_RATIO_TARGET:g}x the floor, output included",
                dry["vs_floor"],
                dry["vs_floor"] <= FLOOR_RATIO_TARGET and dry["floor_agrees"],
                f"{dry['command_seconds']}s vs {dry['floor_seconds']}s floor, "
                f"{dry.get('due', 0):,} due, {dry['prompts']:,} prompts; "
                f"same output: {dry['floor_agrees']}",
            )
        )
    sharded = results["dispatch"].get("shards")
    for figure in sharded["figures"] if sharded else []:
        if figure["shards"] < 2:
            continue
        speedup = figure["vs_one_process"]
        found.append(
            target(
                f"dispatch with {figure['shards']} shards in separate processes",
                f">= {SHARD_SPEEDUP_TARGET:g}x one process at concurrency {sharded['concurrency']}",
                speedup,
                speedup is not None
                and speedup >= SHARD_SPEEDUP_TARGET
                and figure["history_as_expected"],
                f"{figure['prompts_per_second']} prompts/s, rounds "
                + ", ".join(f"{r['prompts_per_second']} (busy {busy(r)})" for r in figure["rounds"])
                + f"; history as expected: {figure['history_as_expected']}",
            )
        )
    escalation = results.get("escalation")
    if escalation:
        found.append(escalation_target(escalation))
    for run in results.get("dispatch", {}).get("runs", []):
        if run["concurrency"] not in DISPATCH_TARGET_CONCURRENCIES:
            continue
        fraction = run["fraction_of_bound"]
        found.append(
            target(
                f"dispatch at concurrency {run['concurrency']}",
                f">= {BOUND_FRACTION_TARGET:.0%} of the bound, history per prompt",
                fraction,
                fraction >= BOUND_FRACTION_TARGET and run["history_as_expected"],
                f"{run['prompts_per_second']} of {run['bound_per_second']} prompts/s, "
                f"median of the runs {spread(run)}; "
                f"history {run['history_by_status']}, as expected: {run['history_as_expected']}",
            )
        )
    return found


def escalation_target(figure: Mapping[str, Any]) -> dict[str, Any]:
    ratio = figure["vs_floor"]
    return target(
        f"escalation step at {figure['history']:,} history rows",
        f"<= {FLOOR_RATIO_TARGET:g}x the floor",
        ratio,
        ratio is not None and ratio <= FLOOR_RATIO_TARGET and figure["floor_agrees"],
        f"{figure['step_seconds']}s vs {figure['floor_seconds']}s floor "
        f"(runs {figure['step_runs']} vs {figure['floor_runs']}), "
        f"{figure['escalated']:,} escalated; same rows: {figure['floor_agrees']}",
    )


def format_escalation_report(results: Mapping[str, Any]) -> str:
    """The report of a run that measured the escalation step only."""
    lines = ["Escalation step (follow-ups + one claiming INSERT per scenario), best of runs"]
    for t in results["targets"]:
        lines.append(
            f"  [{'met' if t['met'] else 'MISSED'}] {t['name']}: {t['value']} "
            f"(target {t['target']}) - {t['detail']}"
        )
    return "\n".join(lines)


def busy(figure: Mapping[str, Any]) -> str:
    cpu = figure.get("cpu")
    return f"{cpu['busy']:.0%}" if cpu else "?"


def shares(run: Mapping[str, Any]) -> list[str]:
    """Each repeated run's share of the bound, in the order they ran."""
    return [f"{r['fraction_of_bound']:.0%}" for r in run["repeats"]]


def spread(run: Mapping[str, Any]) -> str:
    """Every repeated run's share of the bound, and the hypervisor's steal beside it."""
    steals = [r["cpu"]["steal"] for r in run["repeats"] if r.get("cpu")]
    return ", ".join(shares(run)) + (f" (CPU steal up to {max(steals):.0%})" if steals else "")


def mb(kb: float) -> str:
    return f"{kb / 1024:.1f} MB"


def table(rows: Sequence[Sequence[object]]) -> list[str]:
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def format_report(results: Mapping[str, Any]) -> str:
    machine = results["machine"]
    lines = [
        f"Machine: {machine['cpu_count']} CPU ({machine['cpu_model']}), "
        f"{machine['memory_gb']} GB, Python {machine['python']}, Django {machine['django']}, "
        f"{machine['database']}",
        "",
        "Evaluation + deduplication (best of runs; naive scaled from a sample)",
    ]
    rows: list[list[object]] = [
        [
            "activities",
            "due",
            "admitted",
            "eval s",
            "floor s",
            "x floor",
            "naive s",
            "x faster",
            "agree",
            "RSS",
            "RSS dry",
        ]
    ]
    for f in results["evaluation"]:
        rows.append(
            [
                f"{f['activities']:,}",
                f"{f['due']:,}",
                f"{f['admitted']:,}",
                f"{f['evaluation_seconds']:.3f}",
                f"{f['floor_seconds']:.3f}",
                f"{f['vs_floor']:.2f}",
                f"{f['naive_estimated_seconds']:.1f}",
                f"{f['naive_speedup']:.0f}",
                "yes" if f["floor_agrees"] and f["naive_agrees"] else "NO",
                mb(f["rss_stream"]["peak_kb"]),
                mb(f["rss_dry_run"]["peak_kb"]),
            ]
        )
    lines += table(rows)
    for key in ("dry_run", "dense_dry_run"):
        dry = results.get(key)
        if not dry:
            continue
        lines += [
            "",
            f"run_dispatch --dry-run --json at {dry['activities']:,} activities "
            f"({dry.get('data_set', 'sparse')}, {dry.get('due', 0):,} due): "
            f"{dry['command_seconds']}s, floor {dry['floor_seconds']}s ({dry['vs_floor']}x), "
            f"{dry['prompts']:,} prompts, same output: {'yes' if dry['floor_agrees'] else 'NO'}",
        ]
    d = results["dispatch"]
    baseline = d["send_then_save"]
    lines += [
        "",
        f"Dispatch of {d['prompts']:,} prompts through the Supabase backend, loopback latency "
        f"{d['latency_ms']:g} ms (send-then-save loop: {baseline['prompts_per_second']} "
        f"prompts/s on {baseline['prompts']})",
    ]
    rows = [
        [
            "concurrency",
            "seconds",
            "prompts/s",
            "bound",
            "of bound",
            "runs",
            "x send-then-save",
            "history ok",
        ]
    ]
    for run in d["runs"]:
        rows.append(
            [
                run["concurrency"],
                f"{run['seconds']:.1f}",
                run["prompts_per_second"],
                run["bound_per_second"],
                f"{run['fraction_of_bound']:.0%}",
                " ".join(shares(run)),
                run["vs_send_then_save"],
                "yes" if run["history_as_expected"] else "NO",
            ]
        )
    lines += table(rows)
    sharded = d.get("shards")
    if sharded:
        lines += [
            "",
            f"Dispatch in separate processes at concurrency {sharded['concurrency']} each "
            "(median of the rounds, run in turn)",
        ]
        rows = [
            [
                "shards",
                "prompts/s",
                "x one process",
                "rounds (busy share)",
                "CPU ms: dispatch/prompt, stand-in/request",
                "history ok",
            ]
        ]
        for figure in sharded["figures"]:
            rounds = figure["rounds"]
            rows.append(
                [
                    figure["shards"],
                    figure["prompts_per_second"],
                    figure["vs_one_process"],
                    " ".join(f"{r['prompts_per_second']}({busy(r)})" for r in rounds),
                    " ".join(
                        f"{r['dispatch_cpu_ms_per_prompt']}/{r['server_cpu_ms_per_request']}"
                        for r in rounds
                    ),
                    "yes" if figure["history_as_expected"] else "NO",
                ]
            )
        lines += table(rows)
    lines += ["", "Targets"]
    for t in results["targets"]:
        lines.append(
            f"  [{'met' if t['met'] else 'MISSED'}] {t['name']}: {t['value']} "
            f"(target {t['target']}) - {t['detail']}"
        )
    return "\n".join(lines)
