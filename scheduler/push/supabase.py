"""Supabase: POST each prompt to an Edge Function, which talks to the phones.

Here too: which key is sent and how (a secret key as `apikey` only, the legacy
service_role JWT also as a Bearer token), and the urllib3 pool the requests go through.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import certifi
import urllib3
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.core.exceptions import ImproperlyConfigured

from scheduler.push import base, config
from scheduler.push.base import TOKEN_ERRORS, BasePushBackend, PushMessage, SendOutcome

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
        config.require("supabase", given)
        base_url = config.service_url("SUPABASE_URL", given["SUPABASE_URL"])
        function = given["SUPABASE_FUNCTION_NAME"].strip().strip("/")
        self.url = f"{base_url}/functions/v1/{function}"
        if secret_key is None and key is None:
            secret_key, key = settings.SUPABASE_SECRET_KEY, settings.SUPABASE_SERVICE_ROLE_KEY
        self.credential = credential(secret_key or "", key or "")
        self.timeout = config.timeouts() if timeout is None else timeout
        self._pool: urllib3.PoolManager | None = None
        self._lock = threading.Lock()

    @classmethod
    def check(cls) -> list[CheckMessage]:
        problems = super().check() + check_keys()
        if any(problem.is_serious() for problem in problems):
            return problems
        return problems + config.service_url_check(
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
                self._pool = pool_manager(self.url, self.concurrency)
            return self._pool

    def send(self, message: PushMessage) -> SendOutcome:
        if base.has_control_characters(self.credential.key):
            outcome = base.unsendable_key(SERVICE)
        else:
            outcome = self._post(message)
        outcome = base.scrub_outcome(outcome, message.device_token, self.credential.key)
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
        deadline = base.request_deadline()
        try:
            response = self._pooled().urlopen(
                "POST",
                self.url,
                body=json.dumps(payload(message)).encode(),
                headers=self._headers(message),
                timeout=urllib3_timeout(self.timeout),
                preload_content=False,
                # A redirect would resend the key wherever it points: never followed.
                redirect=False,
                retries=False,
            )
            body = base.read_body(response, deadline)
        except base.NETWORK_ERRORS as exc:
            return base.network_outcome(SERVICE, exc)
        if not 200 <= response.status < 300:
            body = base.scrub_body(body, message.device_token, self.credential.key)
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
        return base.redirect_outcome(SERVICE, status, "SUPABASE_URL")
    data = base.parse_json(body)
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
            f"{base.error_text(str(answer.get('detail') or '').encode())} "
            "(see its secrets: supabase secrets list)."
        )
    retry_after = base.retry_after_seconds(retry_after_header)
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
    what = base.error_text(str(answer.get("detail") or "HTTP 400 INVALID_ARGUMENT").encode())
    return SendOutcome.permanent(f"FCM: the device token is invalid ({what}).", token_invalid=True)


def error_detail(body: bytes) -> str:
    data = base.parse_json(body)
    if isinstance(data, dict):
        for key in ("error", "message", "msg"):
            value = data.get(key)
            if isinstance(value, dict):
                value = value.get("message") or value.get("code")
            if value:
                return f" {base.error_text(str(value).encode())}"
    text = base.error_text(body)
    return f" {text}" if text else ""


SECRET_KEY_PREFIX = "sb_secret_"


@dataclass(frozen=True)
class Credential:
    key: str
    setting: str  # where it came from, for error messages
    bearer: bool  # a legacy JWT also goes in Authorization

    def headers(self) -> dict[str, str]:
        # A secret key is not a JWT: as a Bearer token the platform's JWT check would refuse it.
        if self.bearer:
            return {"Authorization": f"Bearer {self.key}", "apikey": self.key}
        return {"apikey": self.key}


def credential(secret_key: str, service_role_key: str) -> Credential:
    """The key to send: SUPABASE_SECRET_KEY first, else the legacy SUPABASE_SERVICE_ROLE_KEY."""
    # A key pasted with a trailing newline would make every request invalid.
    secret_key, service_role_key = secret_key.strip(), service_role_key.strip()
    if secret_key:
        return Credential(secret_key, "SUPABASE_SECRET_KEY", bearer=False)
    if service_role_key:
        is_jwt = not service_role_key.startswith(SECRET_KEY_PREFIX)
        return Credential(service_role_key, "SUPABASE_SERVICE_ROLE_KEY", bearer=is_jwt)
    raise ImproperlyConfigured(
        "The supabase push backend needs SUPABASE_SECRET_KEY (or the legacy "
        "SUPABASE_SERVICE_ROLE_KEY)."
    )


def check_keys() -> list[CheckMessage]:
    secret_key = settings.SUPABASE_SECRET_KEY.strip()
    service_role_key = settings.SUPABASE_SERVICE_ROLE_KEY.strip()
    if not secret_key and not service_role_key:
        return [
            Error(
                f"PUSH_BACKEND is {settings.PUSH_BACKEND!r} but neither SUPABASE_SECRET_KEY "
                "nor SUPABASE_SERVICE_ROLE_KEY is set.",
                hint="Set SUPABASE_SECRET_KEY to a secret key (sb_secret_…) from the "
                "Supabase dashboard: Project settings > API keys.",
                id="scheduler.E002",
            )
        ]
    if not secret_key and service_role_key.startswith(SECRET_KEY_PREFIX):
        return [
            Warning(
                "SUPABASE_SERVICE_ROLE_KEY holds a secret key (sb_secret_…): it is sent as "
                "apikey only, not as a Bearer token.",
                hint="Move it to SUPABASE_SECRET_KEY and unset SUPABASE_SERVICE_ROLE_KEY.",
                id="scheduler.W001",
            )
        ]
    return []


def pool_manager(url: str, concurrency: int) -> urllib3.PoolManager:
    """Pooled connections to one push service, without requests on top.

    The proxy and CA bundle come from `config.environment_for`; no retries (a
    repeated POST could deliver twice: the pipeline retries) and, per
    request, no redirects.
    """
    proxies, ca_bundle = config.environment_for(url)
    proxy = proxies.get(urlsplit(url).scheme) or proxies.get("all")
    options: dict[str, Any] = {
        "maxsize": max(concurrency, 1),
        "retries": False,
        "cert_reqs": "CERT_REQUIRED",
        "ca_certs": ca_bundle or certifi.where(),
    }
    if proxy:
        return urllib3.ProxyManager(proxy, **options)
    return urllib3.PoolManager(**options)


def urllib3_timeout(timeout: float | tuple[float, float]) -> urllib3.Timeout:
    connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    return urllib3.Timeout(connect=connect, read=read)
