"""Loaded before Django settings (see pyproject's addopts): safe test defaults."""

from __future__ import annotations

import os

# A development .env (from `make run`) must not change what the tests see, nor their children.
os.environ["ENV_FILE"] = ""
os.environ.setdefault("SECRET_KEY", "test-only-secret-key")
os.environ.setdefault("PUSH_BACKEND", "locmem")
os.environ.setdefault("QUIET_HOURS", "")
os.environ.setdefault("MAX_PROMPTS_PER_MENTOR_PER_DAY", "0")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("DISPATCH_RUN_NOW_IN_BACKGROUND", "false")
