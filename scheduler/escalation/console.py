"""Development email: Django's console backend, on stderr so `run_dispatch --json` stays clean."""

from __future__ import annotations

import sys
from typing import Any

from django.core.mail.backends.console import EmailBackend as DjangoConsoleBackend


class EmailBackend(DjangoConsoleBackend):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream", sys.stderr)
        super().__init__(*args, **kwargs)
