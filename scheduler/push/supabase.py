"""Supabase: POST each prompt to an Edge Function, which talks to the phones."""

from __future__ import annotations

import logging
import threading

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from scheduler.push import http
from scheduler.push.base import BasePushBackend, PushMessage, SendOutcome

logger = logging.getLogger(__name__)

SERVICE = "Supabase"
# Too many requests and request timeouts say "later", not "never".
TRANSIENT_CLIENT_ERRORS = {408, 425, 429}


class SupabaseBackend(BasePushBackend):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        # A key pasted with a trailing newline would make every request invalid.
        key = settings.SUPABASE_SERVICE_ROLE_KEY.strip()
        missing = [
            name
            for name, value in [
                ("SUPABASE_URL", settings.SUPABASE_URL.strip()),
                ("SUPABASE_SERVICE_ROLE_KEY", key),
                ("SUPABASE_FUNCTION_NAME", settings.SUPABASE_FUNCTION_NAME),
            ]
            if not value
        ]
        if missing:
            raise ImproperlyConfigured(f"The supabase push backend needs {', '.join(missing)}.")
        base_url = http.service_url("SUPABASE_URL", settings.SUPABASE_URL)
        self.url = f"{base_url}/functions/v1/{settings.SUPABASE_FUNCTION_NAME.strip('/')}"
        self._key = key
        self._session: requests.Session | None = None
        self._lock = threading.Lock()

    def open(self) -> None:
        self._pooled_session()

    def close(self) -> None:
        with self._lock:
            session, self._session = self._session, None
        if session is not None:
            session.close()

    def _pooled_session(self) -> requests.Session:
        with self._lock:
            if self._session is None:
                session = requests.Session()
                http.mount_pool(session, self.concurrency)
                self._session = session
            return self._session

    def send(self, message: PushMessage) -> SendOutcome:
        payload = {
            "peer_mentor_id": message.peer_mentor_id,
            "scenario_id": message.scenario_id,
            "device_token": message.device_token,
        }
        # Headers per request: the session is shared by threads and never mutated.
        headers = {"Authorization": f"Bearer {self._key}", "apikey": self._key}
        try:
            response = self._pooled_session().post(
                self.url, json=payload, headers=headers, **http.post_options()
            )
        except requests.RequestException as exc:
            outcome = http.network_outcome(SERVICE, exc)
        else:
            body = http.scrub_body(http.read_body(response), message.device_token, self._key)
            outcome = classify(response.status_code, response.headers.get("Retry-After"), body)
        outcome = http.scrub_outcome(outcome, message.device_token, self._key)
        if not outcome.ok:
            logger.info(
                "supabase push for mentor %s scenario %s prompt %s: %s",
                message.peer_mentor_id,
                message.scenario_id,
                message.prompt_id,
                outcome.error,
            )
        return outcome


def classify(status: int, retry_after_header: str | None, body: bytes) -> SendOutcome:
    if 200 <= status < 300:
        return SendOutcome.delivered()
    if 300 <= status < 400:
        return http.redirect_outcome(SERVICE, status, "SUPABASE_URL")
    detail = describe(body)
    if status in (401, 403):
        return SendOutcome.misconfigured(
            f"{SERVICE} refused the request (HTTP {status}): misconfiguration, check "
            f"SUPABASE_SERVICE_ROLE_KEY.{detail}"
        )
    if status == 404:
        return SendOutcome.misconfigured(
            f"{SERVICE} has no such function (HTTP 404): check SUPABASE_URL and "
            f"SUPABASE_FUNCTION_NAME.{detail}"
        )
    retry_after = http.retry_after_seconds(retry_after_header)
    if status >= 500 or status in TRANSIENT_CLIENT_ERRORS:
        return SendOutcome.transient(
            f"{SERVICE} is unavailable (HTTP {status}).{detail}", retry_after=retry_after
        )
    return SendOutcome.permanent(f"{SERVICE} rejected the prompt (HTTP {status}).{detail}")


def describe(body: bytes) -> str:
    data = http.parse_json(body)
    if isinstance(data, dict):
        for key in ("error", "message", "msg"):
            value = data.get(key)
            if isinstance(value, dict):
                value = value.get("message") or value.get("code")
            if value:
                return f" {http.error_text(str(value).encode())}"
    text = http.error_text(body)
    return f" {text}" if text else ""
