from __future__ import annotations

import base64
import gzip
import json
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from django.core.exceptions import ImproperlyConfigured

from scheduler.push import Delivery, SendOutcome, fcm
from scheduler.push.base import ERROR_TEXT_LENGTH
from scheduler.push.fcm import BAD_REQUEST_TYPE, FcmBackend
from tests.loopback import Answer, LoopbackServer
from tests.push.conftest import FCM_PATH, fcm_error
from tests.push.helpers import message


def send_one(server: LoopbackServer, *answers: Answer, **fields: Any) -> SendOutcome:
    server.script(FCM_PATH, *answers)
    with FcmBackend(concurrency=2) as backend:
        return backend.send(message(**fields))


def b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def test_it_posts_a_v1_message_to_the_project_url(firebase: LoopbackServer) -> None:
    outcome = send_one(firebase, token="device-token-fcm-112233", prompt_id=41, scenario_id=3)

    assert outcome == SendOutcome.delivered()
    [request] = firebase.requests_to(FCM_PATH)
    assert request.path == "/v1/projects/loopback-project/messages:send"
    assert request.header("Content-Type") == "application/json"
    assert request.json == {
        "message": {
            "token": "device-token-fcm-112233",
            "notification": {
                "title": "Time to check in",
                "body": "A few days have passed since your first contact.",
            },
            "data": {"scenario_id": "3", "prompt_id": "41"},
            "android": {"collapse_key": "prompt-41", "notification": {"tag": "prompt-41"}},
            "apns": {"headers": {"apns-collapse-id": "prompt-41"}},
        }
    }


def test_it_tags_the_notification_with_its_prompt_so_a_resend_replaces_it(
    firebase: LoopbackServer,
) -> None:
    send_one(firebase, prompt_id=41)
    send_one(firebase, prompt_id=41)

    first, again = (r.json["message"] for r in firebase.requests_to(FCM_PATH))
    assert first["android"]["notification"]["tag"] == "prompt-41"
    assert first["apns"]["headers"]["apns-collapse-id"] == "prompt-41"
    assert again == first


def test_it_sends_with_the_access_token_from_the_token_endpoint(
    firebase: LoopbackServer,
) -> None:
    send_one(firebase)

    [request] = firebase.requests_to(FCM_PATH)
    assert request.header("Authorization") == "Bearer loopback-access-1"


def test_it_gets_the_token_with_a_jwt_signed_by_the_service_account_key(
    firebase: LoopbackServer, private_key_pem: bytes
) -> None:
    send_one(firebase)

    [token_request] = firebase.requests_to("/token")
    form = token_request.form
    assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    header, claims, signature = form["assertion"].split(".")
    public_key = serialization.load_pem_private_key(private_key_pem, None).public_key()
    public_key.verify(  # raises if the signature is not from our key
        b64decode(signature),
        f"{header}.{claims}".encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    assert json.loads(b64decode(header))["alg"] == "RS256"
    payload = json.loads(b64decode(claims))
    assert payload["iss"] == "push-sender@loopback-project.iam.gserviceaccount.com"
    assert payload["scope"] == "https://www.googleapis.com/auth/firebase.messaging"
    assert (
        payload["aud"] == "https://oauth2.googleapis.com/token"
    )  # Google's audience, whatever the URL


def test_it_fetches_the_token_once_for_many_concurrent_sends(firebase: LoopbackServer) -> None:
    firebase.always(FCM_PATH, Answer(200, {}, delay=0.05))
    messages = [message(token=f"device-token-{n:06d}") for n in range(24)]
    with FcmBackend(concurrency=8) as backend, ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(backend.send, messages))

    assert all(o.ok for o in outcomes)
    assert firebase.token_requests == 1
    assert len(firebase.requests_to(FCM_PATH)) == 24
    assert firebase.max_in_flight(FCM_PATH) == 8


def test_it_keeps_the_token_across_runs_of_the_same_process(firebase: LoopbackServer) -> None:
    for _ in range(3):
        with FcmBackend(concurrency=2) as backend:
            backend.send(message())

    assert firebase.token_requests == 1
    assert len({r.client_port for r in firebase.requests_to(FCM_PATH)}) == 1


def test_it_starts_a_new_session_when_the_key_file_is_rotated(
    firebase: LoopbackServer, service_account_file: Path
) -> None:
    with FcmBackend() as backend:
        backend.send(message())
    stat = service_account_file.stat()
    os.utime(service_account_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    with FcmBackend() as backend:
        backend.send(message())

    assert firebase.token_requests == 2
    assert [r.header("Authorization") for r in firebase.requests_to(FCM_PATH)] == [
        "Bearer loopback-access-1",
        "Bearer loopback-access-2",
    ]


def test_it_marks_a_test_prompt_without_a_prompt_id(firebase: LoopbackServer) -> None:
    send_one(firebase, prompt_id=None)

    sent = firebase.requests_to(FCM_PATH)[0].json["message"]
    assert sent["data"]["prompt_id"] == "test"
    assert sent["android"]["collapse_key"] == "prompt-test"
    assert sent["android"]["notification"]["tag"] == "prompt-test"


TOKEN_VIOLATION = {
    "@type": BAD_REQUEST_TYPE,
    "fieldViolations": [{"field": "message.token", "description": "Invalid registration token"}],
}
TITLE_VIOLATION = {
    "@type": BAD_REQUEST_TYPE,
    "fieldViolations": [{"field": "message.notification.title", "description": "Too long"}],
}


@pytest.mark.parametrize(
    ("status", "body", "expected_words"),
    [
        (404, fcm_error(404, "UNREGISTERED", "Requested entity was not found."), "no longer"),
        (403, fcm_error(403, "SENDER_ID_MISMATCH", "SenderId mismatch"), "another Firebase"),
        (400, fcm_error(400, "INVALID_ARGUMENT", "Invalid argument", TOKEN_VIOLATION), "invalid"),
        (
            400,
            fcm_error(400, "INVALID_ARGUMENT", "The registration token is not a valid FCM token"),
            "invalid",
        ),
    ],
    ids=["unregistered", "sender-id-mismatch", "token-field-violation", "token-in-message"],
)
def test_it_reports_a_dead_token_as_permanent_and_invalid(
    firebase: LoopbackServer, status: int, body: dict, expected_words: str
) -> None:
    outcome = send_one(firebase, Answer(status, body))

    assert outcome.delivery is Delivery.PERMANENT
    assert outcome.token_invalid
    assert expected_words in outcome.error


def test_it_reads_a_compressed_error_body_to_its_end(firebase: LoopbackServer) -> None:
    # Decoded, the body is far larger than one read; compressed, it is one packet.
    padding = {"@type": "type.googleapis.com/google.rpc.DebugInfo", "detail": "x" * 30_000}
    body = fcm_error(404, "", "Requested entity was not found.", padding)
    body["error"]["details"].append({"@type": fcm.FCM_ERROR_TYPE, "errorCode": "UNREGISTERED"})
    compressed = gzip.compress(json.dumps(body).encode())
    answer = Answer(
        404, compressed, {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    )

    outcome = send_one(firebase, answer)

    assert outcome.delivery is Delivery.PERMANENT
    assert outcome.token_invalid


def test_it_keeps_the_token_for_an_invalid_argument_about_something_else(
    firebase: LoopbackServer,
) -> None:
    body = fcm_error(
        400, "INVALID_ARGUMENT", "Request contains an invalid argument.", TITLE_VIOLATION
    )
    outcome = send_one(firebase, Answer(400, body))

    assert outcome.delivery is Delivery.PERMANENT
    assert not outcome.token_invalid
    assert "HTTP 400 INVALID_ARGUMENT" in outcome.error


def test_it_reports_rejected_apns_credentials_without_blaming_the_token(
    firebase: LoopbackServer,
) -> None:
    outcome = send_one(firebase, Answer(401, fcm_error(401, "THIRD_PARTY_AUTH_ERROR")))

    assert outcome.delivery is Delivery.PERMANENT
    assert not outcome.token_invalid
    assert "APNs" in outcome.error


def test_it_refreshes_once_on_401_then_reports_a_misconfiguration(
    firebase: LoopbackServer,
) -> None:
    refused = Answer(401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}})
    outcome = send_one(firebase, refused, refused)

    assert outcome.delivery is Delivery.MISCONFIGURED
    assert "misconfiguration" in outcome.error
    assert len(firebase.requests_to(FCM_PATH)) == 2
    assert firebase.token_requests == 2


def test_it_recovers_when_a_refreshed_token_is_accepted(firebase: LoopbackServer) -> None:
    outcome = send_one(firebase, Answer(401, {"error": {"code": 401}}))

    assert outcome.ok
    assert firebase.requests_to(FCM_PATH)[-1].header("Authorization") == "Bearer loopback-access-2"


def test_it_reports_a_forbidden_project_as_a_misconfiguration(firebase: LoopbackServer) -> None:
    outcome = send_one(firebase, Answer(403, fcm_error(403, "", "Permission denied")))

    assert outcome.delivery is Delivery.MISCONFIGURED
    assert not outcome.token_invalid
    assert "FCM_CREDENTIALS_FILE" in outcome.error


@pytest.mark.parametrize(("header", "expected"), [(None, 60), ("10", 60), ("300", 300)])
def test_it_waits_at_least_a_minute_after_a_quota_error(
    firebase: LoopbackServer, header: str | None, expected: float
) -> None:
    headers = {"Retry-After": header} if header else {}
    outcome = send_one(firebase, Answer(429, fcm_error(429, "QUOTA_EXCEEDED"), headers))

    assert outcome.delivery is Delivery.TRANSIENT
    assert outcome.retry_after == expected


@pytest.mark.parametrize("status", [500, 503])
def test_it_treats_server_errors_as_transient_honouring_retry_after(
    firebase: LoopbackServer, status: int
) -> None:
    body = fcm_error(status, "UNAVAILABLE" if status == 503 else "INTERNAL")
    outcome = send_one(firebase, Answer(status, body, {"Retry-After": "42"}))

    assert outcome.delivery is Delivery.TRANSIENT
    assert outcome.retry_after == 42


def test_it_survives_an_html_error_page(firebase: LoopbackServer) -> None:
    page = "<html><title>Error 502 (Server Error)!!1</title>" + "x" * 200_000 + "</html>"
    outcome = send_one(firebase, Answer(502, page, {"Content-Type": "text/html"}))

    assert outcome.delivery is Delivery.TRANSIENT
    assert "Error 502 (Server Error)" in outcome.error
    assert len(outcome.error) < 500


def test_it_never_follows_a_redirect(firebase: LoopbackServer) -> None:
    with LoopbackServer() as elsewhere:
        elsewhere.always("/moved", Answer(200, {}))
        outcome = send_one(firebase, Answer(307, headers={"Location": f"{elsewhere.url}/moved"}))

        assert elsewhere.requests == []
    assert outcome.delivery is Delivery.MISCONFIGURED
    assert "FCM_API_URL" in outcome.error


@pytest.mark.parametrize("status", [302, 307])
def test_it_never_follows_a_redirect_from_the_token_endpoint(
    firebase: LoopbackServer, status: int
) -> None:
    with LoopbackServer() as elsewhere:
        elsewhere.serve_oauth_tokens("/stolen")
        elsewhere.serve_oauth_tokens("/stolen-get")
        elsewhere.always("/stolen-get", Answer(200, {}), method="GET")
        location = f"{elsewhere.url}/stolen" if status == 307 else f"{elsewhere.url}/stolen-get"
        firebase.script("/token", Answer(status, headers={"Location": location}))
        outcome = send_one(firebase)

        assert elsewhere.requests == []  # so the signed assertion went nowhere else
    assert outcome.delivery is Delivery.MISCONFIGURED
    assert f"HTTP {status}" in outcome.error
    assert "FCM_CREDENTIALS_FILE" in outcome.error
    assert firebase.requests_to(FCM_PATH) == []


@pytest.mark.parametrize(
    ("header", "expected"),
    [("1e12", 21600), ("Fri, 31 Dec 9999 23:59:59 GMT", 21600), ("inf", None), ("nan", None)],
)
def test_it_caps_an_absurd_retry_after_at_the_longest_retry_wait(
    push_settings: Any, firebase: LoopbackServer, header: str, expected: float | None
) -> None:
    push_settings.DISPATCH_RETRY_MAX_SECONDS = 21600
    outcome = send_one(
        firebase, Answer(503, fcm_error(503, "UNAVAILABLE"), {"Retry-After": header})
    )

    assert outcome.delivery is Delivery.TRANSIENT
    assert outcome.retry_after == expected


@pytest.mark.parametrize(("header", "expected"), [("1e12", 21600), ("inf", 60), ("nan", 60)])
def test_it_keeps_the_quota_minute_with_an_absurd_retry_after(
    push_settings: Any, firebase: LoopbackServer, header: str, expected: float
) -> None:
    push_settings.DISPATCH_RETRY_MAX_SECONDS = 21600
    outcome = send_one(
        firebase, Answer(429, fcm_error(429, "QUOTA_EXCEEDED"), {"Retry-After": header})
    )

    assert outcome.delivery is Delivery.TRANSIENT
    assert outcome.retry_after == expected


def test_it_gives_up_on_an_answer_that_trickles_past_the_request_deadline(
    push_settings: Any, firebase: LoopbackServer
) -> None:
    push_settings.PUSH_READ_TIMEOUT_SECONDS = 1.0
    push_settings.PUSH_REQUEST_DEADLINE_SECONDS = 1.0
    with FcmBackend() as backend:
        backend.send(message())  # the access token first, so only the send is timed
        firebase.script(FCM_PATH, Answer(200, {"name": "x" * 100}, trickle=0.5))
        started = time.monotonic()
        outcome = backend.send(message())

    assert time.monotonic() - started < 2.0
    assert outcome.delivery is Delivery.TRANSIENT
    assert "timed out" in outcome.error


def test_it_masks_an_echoed_device_token_even_where_the_error_text_is_cut(
    firebase: LoopbackServer,
) -> None:
    token = "fcm-device-token:" + "t" * 150
    # The token starts inside the error text's length and runs past its end.
    text = "x" * (ERROR_TEXT_LENGTH - 60) + f" token {token}"
    outcome = send_one(firebase, Answer(400, fcm_error(400, "", text)), token=token)

    assert outcome.delivery is Delivery.PERMANENT
    assert token[:20] not in outcome.error


def test_it_treats_a_timeout_as_transient(push_settings: Any, firebase: LoopbackServer) -> None:
    push_settings.PUSH_READ_TIMEOUT_SECONDS = 0.2
    outcome = send_one(firebase, Answer(200, delay=2))

    assert outcome.delivery is Delivery.TRANSIENT
    assert "timed out" in outcome.error


def test_it_treats_a_dropped_connection_as_transient(firebase: LoopbackServer) -> None:
    outcome = send_one(firebase, Answer(drop=True))

    assert outcome.delivery is Delivery.TRANSIENT
    assert len(firebase.requests_to(FCM_PATH)) == 1


def test_it_reports_refused_credentials_as_a_misconfiguration(firebase: LoopbackServer) -> None:
    firebase.script(
        "/token",
        Answer(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}),
    )
    outcome = send_one(firebase)

    assert outcome.delivery is Delivery.MISCONFIGURED
    assert "invalid_grant" in outcome.error
    assert "FCM_CREDENTIALS_FILE" in outcome.error
    assert firebase.requests_to(FCM_PATH) == []


def test_it_treats_a_failing_token_endpoint_as_transient(firebase: LoopbackServer) -> None:
    # google-auth itself tries a 5xx token endpoint three times before giving up.
    firebase.script("/token", *[Answer(503, {"error": "temporarily_unavailable"})] * 3)
    outcome = send_one(firebase)

    assert outcome.delivery is Delivery.TRANSIENT
    assert firebase.token_requests == 3
    assert firebase.requests_to(FCM_PATH) == []


def test_it_treats_an_unreachable_token_endpoint_as_transient(firebase: LoopbackServer) -> None:
    firebase.script("/token", Answer(drop=True))
    outcome = send_one(firebase)

    assert outcome.delivery is Delivery.TRANSIENT
    assert "OAuth" in outcome.error


def test_it_fails_the_rest_of_a_run_fast_after_a_token_failure(firebase: LoopbackServer) -> None:
    firebase.script("/token", Answer(drop=True))
    with FcmBackend(concurrency=4) as backend, ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(backend.send, [message() for _ in range(10)]))

    assert {o.delivery for o in outcomes} == {Delivery.TRANSIENT}
    assert firebase.token_requests == 1


def test_it_never_logs_the_token_or_credentials(
    firebase: LoopbackServer, service_account_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = "device-token-never-logged-1"
    body = fcm_error(400, "INVALID_ARGUMENT", f"The registration token {token} is not valid")
    send_one(firebase, Answer(400, body), token=token)

    private_key = json.loads(service_account_file.read_text())["private_key"]
    assert caplog.records
    assert token not in caplog.text
    assert "loopback-access-1" not in caplog.text
    assert private_key.splitlines()[1] not in caplog.text


@pytest.mark.parametrize("setting", ["FCM_PROJECT_ID", "FCM_CREDENTIALS_FILE", "FCM_API_URL"])
def test_it_refuses_to_start_without_a_setting(
    firebase: LoopbackServer, push_settings: Any, setting: str
) -> None:
    setattr(push_settings, setting, "")

    with pytest.raises(ImproperlyConfigured, match=setting):
        FcmBackend()


def test_it_refuses_plain_http_to_a_host_other_than_this_machine(
    firebase: LoopbackServer, push_settings: Any
) -> None:
    push_settings.FCM_API_URL = "http://fcm.googleapis.com"

    with pytest.raises(ImproperlyConfigured, match="FCM_API_URL"):
        FcmBackend()


def test_it_refuses_a_credentials_file_that_is_not_a_service_account(
    firebase: LoopbackServer, push_settings: Any, tmp_path: Path
) -> None:
    path = tmp_path / "user.json"
    path.write_text(json.dumps({"type": "authorized_user", "refresh_token": "r"}))
    push_settings.FCM_CREDENTIALS_FILE = str(path)

    with pytest.raises(ImproperlyConfigured, match="not a service-account key"):
        FcmBackend()


def test_it_refuses_a_missing_credentials_file(
    firebase: LoopbackServer, push_settings: Any, tmp_path: Path
) -> None:
    push_settings.FCM_CREDENTIALS_FILE = str(tmp_path / "nowhere.json")

    with pytest.raises(ImproperlyConfigured, match="cannot be read"):
        FcmBackend()
