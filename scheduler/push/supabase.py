"""Supabase: POST each prompt to an Edge Function, which talks to the phones."""

from __future__ import annotations

import logging
import threading
from typing import Any

import requests
from django.conf import settings
from django.core.checks import CheckMessage

from scheduler.push import transport
from scheduler.push.base import BasePushBackend, PushMessage, SendOutcome, require

logger = logging.getLogger(__name__)

SERVICE = "Supabase"
# Too many requests and request timeouts say "later", not "never".
TRANSIENT_CLIENT_ERRORS = {408, 425, 429}


class SupabaseBackend(BasePushBackend):
    required_settings = ("SUPABASE_URL", "SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_FUNCTION_NAME")

    def __init__(
        self,
        url: str | None = None,
        key: str | None = None,
        function_name: str | None = None,
        timeout: float | tuple[float, float] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        given = {
            "SUPABASE_URL": settings.SUPABASE_URL if url is None else url,
            "SUPABASE_SERVICE_ROLE_KEY": settings.SUPABASE_SERVICE_ROLE_KEY if key is None else key,
            "SUPABASE_FUNCTION_NAME": (
                settings.SUPABASE_FUNCTION_NAME if function_name is None else function_name
            ),
        }
        require("supabase", given)
        base_url = transport.service_url("SUPABASE_URL", given["SUPABASE_URL"])
        function = given["SUPABASE_FUNCTION_NAME"].strip().strip("/")
        self.url = f"{base_url}/functions/v1/{function}"
        # A key pasted with a trailing newline would make every request invalid.
        self._key = given["SUPABASE_SERVICE_ROLE_KEY"].strip()
        self.timeout = transport.timeouts() if timeout is None else timeout
        self._post_options = transport.post_options(self.timeout, self.url)
        self._session: requests.Session | None = None
        self._prepared: requests.PreparedRequest | None = None
        self._lock = threading.Lock()

    @classmethod
    def check(cls) -> list[CheckMessage]:
        return super().check() or transport.service_url_check(
            "SUPABASE_URL", hint="It looks like https://<project-ref>.supabase.co"
        )

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
                transport.mount_pool(session, self.concurrency)
                self._session = session
            return self._session

    def send(self, message: PushMessage) -> SendOutcome:
        deadline = transport.request_deadline()
        try:
            request = self._request_for(message)
            response = self._pooled_session().send(request, **self._post_options)
            body = transport.read_body(response, deadline)
        except requests.RequestException as exc:
            outcome = transport.network_outcome(SERVICE, exc)
        else:
            if not 200 <= response.status_code < 300:
                body = transport.scrub_body(body, message.device_token, self._key)
            outcome = classify(response.status_code, response.headers.get("Retry-After"), body)
        outcome = transport.scrub_outcome(outcome, message.device_token, self._key)
        if not outcome.ok:
            logger.info(
                "supabase push for mentor %s scenario %s prompt %s: %s",
                message.peer_mentor_id,
                message.scenario_id,
                message.prompt_id,
                outcome.error,
            )
        return outcome

    def _request_for(self, message: PushMessage) -> requests.PreparedRequest:
        """The POST for one message: a copy of the request prepared once, with its body.

        Preparing the URL, headers and session defaults once rather than per
        send takes a third off requests' CPU time per send, which at high
        concurrency is what limits a run. The copy is the thread's own: the
        shared parts are never mutated.
        """
        if self._prepared is None:
            headers = {"Authorization": f"Bearer {self._key}", "apikey": self._key}
            post = requests.Request("POST", self.url, headers=headers)
            self._prepared = self._pooled_session().prepare_request(post)
        request = self._prepared.copy()
        # A prompt sent again (its answer was lost) carries the same key, so the
        # function can tell a resend from a new prompt. Test prompts carry none:
        # each is meant to arrive.
        if message.prompt_id is not None:
            request.headers["Idempotency-Key"] = f"prompt-{message.prompt_id}"
        request.prepare_body(data=None, files=None, json=payload(message))
        return request


def payload(message: PushMessage) -> dict[str, object]:
    """Ids and the device token only: nothing about the person the mentor helped."""
    return {
        "prompt_id": message.prompt_id,
        "peer_mentor_id": message.peer_mentor_id,
        "scenario_id": message.scenario_id,
        "device_token": message.device_token,
    }


def classify(status: int, retry_after_header: str | None, body: bytes) -> SendOutcome:
    if 200 <= status < 300:
        return SendOutcome.delivered()
    if 300 <= status < 400:
        return transport.redirect_outcome(SERVICE, status, "SUPABASE_URL")
    detail = error_detail(body)
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
    retry_after = transport.retry_after_seconds(retry_after_header)
    if status >= 500 or status in TRANSIENT_CLIENT_ERRORS:
        return SendOutcome.transient(
            f"{SERVICE} is unavailable (HTTP {status}).{detail}", retry_after=retry_after
        )
    return SendOutcome.permanent(f"{SERVICE} rejected the prompt (HTTP {status}).{detail}")


def error_detail(body: bytes) -> str:
    data = transport.parse_json(body)
    if isinstance(data, dict):
        for key in ("error", "message", "msg"):
            value = data.get(key)
            if isinstance(value, dict):
                value = value.get("message") or value.get("code")
            if value:
                return f" {transport.error_text(str(value).encode())}"
    text = transport.error_text(body)
    return f" {text}" if text else ""
