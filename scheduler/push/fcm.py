"""Firebase Cloud Messaging, HTTP v1 API, authorised by a service account."""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from django.conf import settings
from django.core.checks import CheckMessage, Error
from django.core.exceptions import ImproperlyConfigured
from google.auth.exceptions import GoogleAuthError, RefreshError, TransportError
from google.auth.transport.requests import AuthorizedSession, Request
from google.oauth2 import service_account

from scheduler.push import base, config, requests_session
from scheduler.push.base import TOKEN_ERRORS, BasePushBackend, PushMessage, SendOutcome

logger = logging.getLogger(__name__)

SERVICE = "FCM"
SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
# FCM asks senders to wait at least a minute after a quota error.
QUOTA_MIN_WAIT_SECONDS = 60.0
# After a failed token refresh, the other sends of a run fail fast instead of
# each waiting on Google's token endpoint again.
REFRESH_FAILURE_HOLD_SECONDS = 30.0
# OAuth error codes that mean "these credentials are refused", not "try later".
REFUSED_GRANTS = {"invalid_grant", "invalid_client", "unauthorized_client", "access_denied"}


def load_credentials(path: str) -> service_account.Credentials:
    """Service-account credentials from a JSON key file; ImproperlyConfigured if it is not one."""
    try:
        info = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ImproperlyConfigured(
            f"FCM_CREDENTIALS_FILE {path!r} cannot be read ({exc.strerror or exc})."
        ) from None
    except ValueError:
        raise ImproperlyConfigured(f"FCM_CREDENTIALS_FILE {path!r} is not JSON.") from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise ImproperlyConfigured(
            f"FCM_CREDENTIALS_FILE {path!r} is not a service-account key "
            '(expected "type": "service_account").'
        )
    try:
        return service_account.Credentials.from_service_account_info(info, scopes=[SCOPE])
    except (ValueError, KeyError, TypeError) as exc:
        raise ImproperlyConfigured(
            f"FCM_CREDENTIALS_FILE {path!r} is not a usable service-account key: {exc}"
        ) from None


def check_credentials_file(filename: str) -> list[CheckMessage]:
    if not Path(filename).is_file():
        return [
            Error(
                f"FCM_CREDENTIALS_FILE {filename!r} does not exist.",
                hint="Download a service-account key (JSON) from the Firebase console: "
                "Project settings > Service accounts > Generate new private key.",
                id="scheduler.E003",
            )
        ]
    try:
        load_credentials(filename)
    except ImproperlyConfigured as exc:
        return [
            Error(
                str(exc),
                hint="FCM needs a service-account key file, not a google-services.json "
                "or a user's credentials.",
                id="scheduler.E004",
            )
        ]
    return []


class GoogleSession:
    """One authorised, pooled session per credentials file, shared by every run of the process.

    Sharing it keeps the access token cached across runs; the lock makes sure
    one thread refreshes it while the others wait for the result.
    """

    def __init__(self, credentials: service_account.Credentials, version: tuple[int, int]) -> None:
        self.credentials = credentials
        self.version = version
        self.pool_size = 0
        self.lock = threading.Lock()
        self.failure: SendOutcome | None = None
        self.failed_at = 0.0
        # A redirected token request would carry the signed assertion elsewhere.
        self.token_session = requests_session.NoRedirectSession()
        self.auth_request = Request(self.token_session)
        # The backend decides itself when a 401 calls for a new token (see FcmBackend._send).
        self.session = AuthorizedSession(
            credentials, auth_request=self.auth_request, refresh_status_codes=()
        )

    def grow_pool(self, concurrency: int) -> None:
        with self.lock:
            if concurrency > self.pool_size:
                requests_session.mount_pool(self.session, concurrency)
                self.pool_size = concurrency

    def ensure_token(self, timeout: float | tuple[float, float]) -> SendOutcome | None:
        """None when a valid access token is at hand, else why there is none."""
        with self.lock:
            if self.credentials.valid:
                return None
            if self.failure and time.monotonic() - self.failed_at < REFRESH_FAILURE_HOLD_SECONDS:
                return self.failure
            try:
                self.credentials.refresh(functools.partial(self.auth_request, timeout=timeout))
            except GoogleAuthError as exc:
                self.failure, self.failed_at = oauth_outcome(exc), time.monotonic()
                logger.warning("FCM access token refresh failed: %s", self.failure.error)
                return self.failure
            self.failure = None
            return None

    def discard_token(self, authorization: str) -> None:
        """Forget the access token a request was refused with, unless another thread already did."""
        with self.lock:
            token = self.credentials.token
            if token and authorization == f"Bearer {token}":
                self.credentials.token = None

    def close(self) -> None:
        self.session.close()
        self.token_session.close()


_sessions: dict[str, GoogleSession] = {}
_sessions_lock = threading.Lock()


def google_session(path: str, concurrency: int) -> GoogleSession:
    """The process-wide session for this credentials file.

    A rotated key file gets a new one, and so does a forked worker: pooled
    sockets must never be shared between processes.
    """
    key = str(Path(path).resolve())
    try:
        version = (Path(key).stat().st_mtime_ns, os.getpid())
    except OSError:
        version = (0, os.getpid())
    with _sessions_lock:
        current = _sessions.get(key)
        if current is None or current.version != version:
            current = GoogleSession(load_credentials(path), version)
            _sessions[key] = current
    current.grow_pool(concurrency)
    return current


def forget_sessions() -> None:
    """Drop every cached session (tests; a process that swaps credentials)."""
    with _sessions_lock:
        sessions = list(_sessions.values())
        _sessions.clear()
    for session in sessions:
        session.close()


class FcmBackend(BasePushBackend):
    required_settings = ("FCM_PROJECT_ID", "FCM_CREDENTIALS_FILE", "FCM_API_URL")

    def __init__(
        self,
        project_id: str | None = None,
        credentials_file: str | None = None,
        api_url: str | None = None,
        timeout: float | tuple[float, float] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        given = {
            "FCM_PROJECT_ID": settings.FCM_PROJECT_ID if project_id is None else project_id,
            "FCM_CREDENTIALS_FILE": (
                settings.FCM_CREDENTIALS_FILE if credentials_file is None else credentials_file
            ),
            "FCM_API_URL": settings.FCM_API_URL if api_url is None else api_url,
        }
        config.require("fcm", given)
        base_url = config.service_url("FCM_API_URL", given["FCM_API_URL"])
        self.url = f"{base_url}/v1/projects/{given['FCM_PROJECT_ID'].strip()}/messages:send"
        self.timeout = config.timeouts() if timeout is None else timeout
        self._post_options = requests_session.post_options(self.timeout, self.url)
        self._google = google_session(given["FCM_CREDENTIALS_FILE"], self.concurrency)

    @classmethod
    def check(cls) -> list[CheckMessage]:
        return (
            super().check()
            or config.service_url_check(
                "FCM_API_URL", hint="Leave it unset for https://fcm.googleapis.com"
            )
            or check_credentials_file(settings.FCM_CREDENTIALS_FILE)
        )

    def send(self, message: PushMessage) -> SendOutcome:
        outcome = base.scrub_outcome(self._send(message), message.device_token)
        if not outcome.ok:
            logger.info(
                "fcm push for mentor %s scenario %s prompt %s: %s",
                message.peer_mentor_id,
                message.scenario_id,
                message.prompt_id,
                outcome.error,
            )
        return outcome

    def _send(self, message: PushMessage, *, token_renewed: bool = False) -> SendOutcome:
        no_token = self._google.ensure_token(self.timeout)
        if no_token is not None:
            return no_token
        deadline = base.request_deadline()
        try:
            response = self._google.session.post(
                self.url, json=build_message(message), **self._post_options
            )
            body = base.read_body(response, deadline)
        except GoogleAuthError as exc:
            return oauth_outcome(exc)
        except requests.RequestException as exc:
            return base.network_outcome(SERVICE, exc)
        if not 200 <= response.status_code < 300:
            body = base.scrub_body(body, message.device_token)
        # An access token revoked before its expiry: one new token, one more try.
        # (THIRD_PARTY_AUTH_ERROR is about APNs credentials, not ours.)
        if (
            response.status_code == 401
            and not token_renewed
            and FcmError.parse(body).code != "THIRD_PARTY_AUTH_ERROR"
        ):
            self._google.discard_token(response.request.headers.get("Authorization", ""))
            return self._send(message, token_renewed=True)
        return classify(response.status_code, response.headers.get("Retry-After"), body)


def build_message(message: PushMessage) -> dict[str, Any]:
    """The v1 message: the scenario's fixed text and ids, nothing about the person helped."""
    prompt_ref = "test" if message.prompt_id is None else str(message.prompt_id)
    # The same prompt sent again (a retry after a lost answer) replaces itself on the phone:
    # the collapse key while it waits at FCM, the tag and apns-collapse-id once shown.
    collapse_key = f"prompt-{prompt_ref}"
    return {
        "message": {
            "token": message.device_token,
            "notification": {"title": message.title, "body": message.body},
            "data": {"scenario_id": str(message.scenario_id), "prompt_id": prompt_ref},
            "android": {"collapse_key": collapse_key, "notification": {"tag": collapse_key}},
            "apns": {"headers": {"apns-collapse-id": collapse_key}},
        }
    }


@dataclass(frozen=True)
class FcmError:
    status: str = ""
    message: str = ""
    code: str = ""  # FcmError.errorCode
    fields: tuple[tuple[str, str], ...] = ()  # (field, description) of BadRequest violations

    @classmethod
    def parse(cls, body: bytes) -> FcmError:
        data = base.parse_json(body)
        error = data.get("error") if isinstance(data, dict) else None
        if not isinstance(error, dict):
            return cls(message=base.error_text(body))
        code, fields = "", []
        for detail in error.get("details") or []:
            if not isinstance(detail, dict):
                continue
            if detail.get("@type") == FCM_ERROR_TYPE:
                code = str(detail.get("errorCode") or "")
            elif detail.get("@type") == BAD_REQUEST_TYPE:
                fields += [
                    (str(v.get("field", "")), str(v.get("description", "")))
                    for v in detail.get("fieldViolations") or []
                    if isinstance(v, dict)
                ]
        return cls(
            status=str(error.get("status") or ""),
            message=base.error_text(str(error.get("message") or "").encode()),
            code=code,
            fields=tuple(fields),
        )

    @property
    def names_token(self) -> bool:
        texts = [self.message, *(description for _, description in self.fields)]
        return any(name.endswith("token") for name, _ in self.fields) or any(
            "registration token" in text.lower() for text in texts
        )

    def summary(self, http_status: int) -> str:
        label = " ".join(part for part in (str(http_status), self.code or self.status) if part)
        return f"HTTP {label}" + (f": {self.message}" if self.message else "")


def classify(status: int, retry_after_header: str | None, body: bytes) -> SendOutcome:
    if 200 <= status < 300:
        return SendOutcome.delivered()
    if 300 <= status < 400:
        return base.redirect_outcome(SERVICE, status, "FCM_API_URL")
    error = FcmError.parse(body)
    what = error.summary(status)
    retry_after = base.retry_after_seconds(retry_after_header)
    if error.code in TOKEN_ERRORS:
        return SendOutcome.permanent(f"FCM: {TOKEN_ERRORS[error.code]}.", token_invalid=True)
    if (error.code or error.status) == "INVALID_ARGUMENT" and error.names_token:
        return SendOutcome.permanent(
            f"FCM: the device token is invalid ({what}).", token_invalid=True
        )
    if error.code == "THIRD_PARTY_AUTH_ERROR":
        return SendOutcome.permanent(
            f"FCM: Apple or web push credentials were rejected ({what}); check the APNs "
            "key or web push certificate in the Firebase console."
        )
    if error.code == "QUOTA_EXCEEDED" or status == 429:
        return SendOutcome.transient(
            f"FCM: sending quota exceeded ({what}).",
            retry_after=max(retry_after or 0.0, QUOTA_MIN_WAIT_SECONDS),
        )
    if status >= 500:
        return SendOutcome.transient(f"FCM is unavailable ({what}).", retry_after=retry_after)
    if status in (401, 403):
        return SendOutcome.misconfigured(
            f"FCM refused the request ({what}): misconfiguration, check FCM_CREDENTIALS_FILE "
            "and that its service account may send messages for FCM_PROJECT_ID."
        )
    if status == 404:
        return SendOutcome.misconfigured(
            f"FCM: not found ({what}): check FCM_PROJECT_ID and FCM_API_URL."
        )
    return SendOutcome.permanent(f"FCM rejected the message ({what}).")


def oauth_outcome(exc: GoogleAuthError) -> SendOutcome:
    """Google's token endpoint said no (permanent) or could not be reached (transient)."""
    if isinstance(exc, TransportError) and isinstance(
        exc.__cause__, requests_session.RedirectRefused
    ):
        return SendOutcome.misconfigured(
            f"FCM: Google's OAuth token endpoint answered with a redirect ({exc.__cause__}), "
            "which is never followed: misconfiguration, check token_uri in FCM_CREDENTIALS_FILE."
        )
    if isinstance(exc, TransportError):
        return SendOutcome.transient(
            "FCM: Google's OAuth token endpoint could not be reached "
            f"({base.error_text(str(exc).encode(), 200)})."
        )
    data = exc.args[1] if isinstance(exc, RefreshError) and len(exc.args) > 1 else None
    grant_error = str(data.get("error") or "") if isinstance(data, dict) else ""
    detail = base.error_text(str(exc.args[0] if exc.args else exc).encode(), 200)
    if grant_error in REFUSED_GRANTS or (grant_error and not exc.retryable):
        return SendOutcome.misconfigured(
            f"FCM: Google refused the service-account credentials ({detail}): "
            "misconfiguration, check FCM_CREDENTIALS_FILE (key revoked or clock skew?)."
        )
    return SendOutcome.transient(f"FCM: getting an access token failed ({detail}).")
