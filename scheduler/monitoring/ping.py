"""Dead man's switch: tell an outside monitor (healthchecks.io style) that runs happen.

A run pings `<HEALTHCHECK_PING_URL>/start` when it begins, the URL itself when
it finished without error and `<url>/fail` otherwise. A ping has a short
timeout, follows no redirects and never raises: the monitor being down must
not affect a run. The URL is a secret (anyone holding it can ping), so it is
never logged.
"""

from __future__ import annotations

import logging

import requests
from django.conf import settings

from scheduler.models import DispatchRun

logger = logging.getLogger(__name__)

START, SUCCESS, FAIL = "/start", "", "/fail"


def ping(suffix: str) -> bool:
    base = settings.HEALTHCHECK_PING_URL
    if not base:
        return False
    timeout = settings.HEALTHCHECK_PING_TIMEOUT_SECONDS
    try:
        response = requests.post(base + suffix, timeout=timeout, allow_redirects=False)
    except Exception as exc:
        logger.warning("health check ping%s failed: %s", suffix or " (success)", type(exc).__name__)
        return False
    if not 200 <= response.status_code < 300:
        logger.warning("health check ping%s answered HTTP %s", suffix, response.status_code)
        return False
    return True


def run_started() -> None:
    try:
        ping(START)
    except Exception:
        logger.exception("health check ping failed")


def run_finished(run: DispatchRun) -> None:
    try:
        ping(FAIL if run.error else SUCCESS)
    except Exception:
        logger.exception("health check ping failed")
