"""Write a development `.env` (DEBUG on, a generated SECRET_KEY) unless one exists.

`make run` calls it, so every `manage.py` command in the README works as written
afterwards. An existing file is never touched: it may hold settings of your own.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

CONTENT = """\
# Development settings written by `make run`; never used in production, ignored by git.
# Edit freely: `make run` never overwrites this file. Every setting is in docs/operations.md.
DEBUG=true
SECRET_KEY={secret}
"""


def main(path: Path) -> int:
    if path.exists():
        return 0
    path.write_text(CONTENT.format(secret=secrets.token_urlsafe(50)), encoding="utf-8")
    path.chmod(0o600)
    print(f"Wrote {path.name} for development (DEBUG=true, a generated SECRET_KEY).")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".env")))
