"""Supabase: POST each prompt to an Edge Function, which talks to the phones."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import urllib3
from django.conf import settings
from django.core.checks import CheckMessage

from scheduler.push import http_common, scrubbing, urllib3_pool
from scheduler.push import supabase_keys as keys
from scheduler.push.base import BasePushBackend, PushMessage, SendOutcome, require
from scheduler.push.fcm import TOKEN_ERRORS

logger = logging.getLogger(__name__)

SERVICE = "Supabase"
# Too many requests and request timeouts say "later", not "never".
TRANSIENT_CLIENT_ERRORS = {408, 425, 429}


class SupabaseBackend(BasePushBackend):
    # And one of SUPABASE_SECRET_KEY or SUPABASE_SERVICE_ROLE_KEY: see check().
    required_settings = ("SUPABASE_URL", "SUPABASE_FUNCTION_NAME")

    def __init__(
        self,
        url: str | None = None,
        key: str | None = None,
        function_name: str | None = None,
        timeout: float | tuple[float, float] | None = None,
        *,
        secret_key: str | None = None,
        **kwargs: Any,
    ) -> None:
        """`secret_key` is an `sb_secret_` key, `key` the legacy service_role JWT; given
        neither, they come from SUPABASE_SECRET_KEY and SUPABASE_SERVICE_ROLE_KEY."""
        super().__init__(**kwargs)
        given = {
            "SUPABASE_URL": settings.SUPABASE_URL if url is None else url,
            "SUPABASE_FUNCTION_NAME": (
                settings.SUPABASE_FUNCTION_NAME if function_name is None else function_name
            ),
        }
        require("supabase", given)
        base_url = http_common.service_url("SUPABASE_URL", given["SUPABASE_URL"])
        function = given["SUPABASE_FUNCTION_NAME"].strip().strip("/")
        self.url = f"{base_url}/functions/v1/{function}"
        if secret_key is None and key is None:
            secret_key, key = settings.SUPABASE_SECRET_KEY, settings.SUPABASE_SERVICE_ROLE_KEY
        self.credential = keys.credential(secret_key or "", key or "")
        self.timeout = http_common.timeouts() if timeout is None else timeout
        self._pool: urllib3.PoolManager | None = None
        self._lock = threading.Lock()

    @classmethod
    def check(cls) -> list[CheckMessage]:
        problems = super().check() + keys.check()
        if any(problem.is_serious() for problem in problems):
            return problems
        return problems + http_common.service_url_check(
            "SUPABASE_URL", hint="It looks like https://<project-ref>.supabase.co"
        )

    def open(self) -> None:
        self._pooled()

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.clear()

    def _pooled(self) -> urllib3.PoolManager:
        # urllib3 rather than requests: a send through requests costs half as
        # much CPU again, and at high concurrency that is what limits a run.
        # Not libcurl (pycurl), although a send through it costs less than half
        # of urllib3's CPU: libcurl sends a POST again, unasked, when a kept-alive
        # connection closes before any answer, pycurl cannot turn that off, and
        # a push must never be repeated behind the pipeline's back.
        with self._lock:
            if self._pool is None:
                self._pool = urllib3_pool.pool_manager(self.url, self.concurrency)
            return self._pool

    def send(self, message: PushMessage) -> SendOutcome:
        if http_common.has_control_characters(self.credential.key):
            outcome = http_common.unsendable_key(SERVICE)
        else:
            outcome = self._post(message)
        outcome = scrubbing.scrub_outcome(outcome, message.device_token, self.credential.key)
        if not outcome.ok:
            logger.info(
                "supabase push for mentor %s scenario %s prompt %s: %s",
                message.peer_mentor_id,
                message.scenario_id,
                message.prompt_id,
                outcome.error,
            )
        return outcome

    def _post(self, message: PushMessage) -> SendOutcome:
        deadline = http_common.request_deadline()
        try:
            response = self._pooled().urlopen(
                "POST",
                self.url,
                body=json.dumps(payload(message)).encode(),
                headers=self._headers(message),
                timeout=urllib3_pool.urllib3_timeout(self.timeout),
                preload_content=False,
                # A redirect would resend the key wherever it points: never followed.
                redirect=False,
                retries=False,
            )
            body = http_common.read_body(response, deadline)
        except http_common.NETWORK_ERRORS as exc:
            return http_common.network_outcome(SERVICE, exc)
        if not 200 <= response.status < 300:
            body = scrubbing.scrub_body(body, message.device_token, self.credential.key)
        return classify(
            response.status, response.headers.get("Retry-After"), body, self.credential.setting
        )

    def _headers(self, message: PushMessage) -> dict[str, str]:
        headers = {**self.credential.headers(), "Content-Type": "application/json"}
        # A prompt sent again (its answer was lost) carries the same key, so the
        # function can tell a resend from a new prompt. Test prompts carry none:
        # each is meant to arrive.
        if message.prompt_id is not None:
            headers["Idempotency-Key"] = f"prompt-{message.prompt_id}"
        return headers


def payload(message: PushMessage) -> dict[str, object]:
    """Ids and the device token only: nothing about the person the mentor helped."""
    return {
        "prompt_id": message.prompt_id,
        "peer_mentor_id": message.peer_mentor_id,
        "scenario_id": message.scenario_id,
        "device_token": message.device_token,
    }


def classify(
    status: int,
    retry_after_header: str | None,
    body: bytes,
    key_setting: str = "SUPABASE_SECRET_KEY",
) -> SendOutcome:
    """The function's answer as an outcome (the contract in docs/design.md, "The Edge Function")."""
    if 200 <= status < 300:
        return SendOutcome.delivered()
    if 300 <= status < 400:
        return http_common.redirect_outcome(SERVICE, status, "SUPABASE_URL")
    data = http_common.parse_json(body)
    answer = data if isinstance(data, dict) else {}
    detail = error_detail(body)
    if status in (401, 403):
        return SendOutcome.misconfigured(
            f"{SERVICE} refused the request (HTTP {status}): misconfiguration, check "
            f"{key_setting}.{detail}"
        )
    if status == 404:
        return SendOutcome.misconfigured(
            f"{SERVICE} has no such function (HTTP 404): check SUPABASE_URL and "
            f"SUPABASE_FUNCTION_NAME.{detail}"
        )
    if status == 410 and answer.get("error") == "unregistered":
        return dead_token(answer)
    if status == 500 and answer.get("error") == "misconfigured":
        return SendOutcome.misconfigured(
            f"{SERVICE}: the Edge Function is misconfigured (HTTP 500): "
            f"{http_common.error_text(str(answer.get('detail') or '').encode())} "
            "(see its secrets: supabase secrets list)."
        )
    retry_after = http_common.retry_after_seconds(retry_after_header)
    if status == 409:
        return SendOutcome.transient(
            f"{SERVICE}: the Edge Function is sending this prompt right now (HTTP 409).",
            retry_after=retry_after,
        )
    if status >= 500 or status in TRANSIENT_CLIENT_ERRORS:
        return SendOutcome.transient(
            f"{SERVICE} is unavailable (HTTP {status}).{detail}", retry_after=retry_after
        )
    return SendOutcome.permanent(f"{SERVICE} rejected the prompt (HTTP {status}).{detail}")


def dead_token(answer: dict[str, Any]) -> SendOutcome:
    """FCM called the token dead: the reason the FCM backend gives, so the token's record
    reads the same whichever path sent it."""
    code = str(answer.get("fcm_error") or "")
    if code in TOKEN_ERRORS:
        return SendOutcome.permanent(f"FCM: {TOKEN_ERRORS[code]}.", token_invalid=True)
    what = http_common.error_text(str(answer.get("detail") or "HTTP 400 INVALID_ARGUMENT").encode())
    return SendOutcome.permanent(f"FCM: the device token is invalid ({what}).", token_invalid=True)


def error_detail(body: bytes) -> str:
    data = http_common.parse_json(body)
    if isinstance(data, dict):
        for key in ("error", "message", "msg"):
            value = data.get(key)
            if isinstance(value, dict):
                value = value.get("message") or value.get("code")
            if value:
                return f" {http_common.error_text(str(value).encode())}"
    text = http_common.error_text(body)
    return f" {text}" if text else ""
