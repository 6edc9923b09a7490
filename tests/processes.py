"""Running `manage.py` in a child process, as operators and schedulers do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def manage(
    env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={"ENV_FILE": "", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
