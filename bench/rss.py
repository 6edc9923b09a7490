"""Peak memory of one evaluation, in a fresh process so sizes cannot mask each other.

`python -m bench.rss --mode stream|dry_run --now ISO` prints one JSON object:
the resident set before the evaluation (`baseline_kb`, after imports and the
database connection) and its peak (`VmHWM`, with `ru_maxrss` as a cross-check).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    return 0


def probe(mode: str, now: datetime) -> dict[str, object]:
    from django.db import connection

    from bench import evaluation

    connection.ensure_connection()
    baseline = status_kb("VmRSS")
    measure = evaluation.pipeline_pass if mode == "stream" else evaluation.dry_run_pass
    result = measure(now)
    return {
        "mode": mode,
        "baseline_kb": baseline,
        "peak_kb": status_kb("VmHWM"),
        "ru_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "admitted": result.admitted,
        "seconds": round(result.seconds, 3),
    }


def measure_in_subprocess(mode: str, now: datetime) -> dict[str, object]:
    # The same conditions as the parent: no query log, no policy holding prompts back.
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "QUIET_HOURS": "",
        "MAX_PROMPTS_PER_MENTOR_PER_DAY": "0",
    }
    env.setdefault("SECRET_KEY", "benchmark-probe-only")
    done = subprocess.run(
        [sys.executable, "-m", "bench.rss", "--mode", mode, "--now", now.isoformat()],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"memory probe failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["stream", "dry_run"], default="stream")
    parser.add_argument("--now", required=True)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    print(json.dumps(probe(args.mode, datetime.fromisoformat(args.now))))


if __name__ == "__main__":
    main()
