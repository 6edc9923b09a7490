"""Supabase access tokens, verified against a loopback key set."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import pytest
from django.test import Client

from tests import factories
from tests.api.conftest import App, KeySetServer
from tests.api.keys import SigningKey, claims_for, hs256_token, unsigned_token

pytestmark = pytest.mark.django_db

LEGACY_SECRET = "legacy-jwt-secret-for-tests-0123456789abcdef"


def status_with(token: str) -> int:
    response = Client().get("/api/v1/prompts", headers={"Authorization": f"Bearer {token}"})
    assert response["Content-Type"].startswith("application/json")
    return response.status_code


def test_it_accepts_an_es256_token_of_a_linked_mentor(app: App) -> None:
    response = app.get("/prompts")
    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}


def test_it_accepts_an_rs256_token_of_a_linked_mentor(other_app: App) -> None:
    assert other_app.get("/prompts").status_code == 200


def test_it_refuses_a_request_without_a_token(db: None, key_server: KeySetServer) -> None:
    response = Client().get("/api/v1/prompts")
    assert response.status_code == 401
    assert response.json() == {"detail": "A valid Supabase access token is required."}
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_it_refuses_another_authorization_scheme(app: App) -> None:
    response = Client().get("/api/v1/prompts", headers={"Authorization": f"Basic {app.token}"})
    assert response.status_code == 401


def test_it_refuses_an_expired_token(app: App, key_server: KeySetServer, es_key) -> None:
    expired = key_server.token(app.mentor.auth_user_id, es_key, exp=int(time.time()) - 120)
    assert status_with(expired) == 401


def test_it_refuses_a_token_issued_in_the_future(app: App, key_server: KeySetServer, es_key):
    early = key_server.token(app.mentor.auth_user_id, es_key, iat=int(time.time()) + 600)
    assert status_with(early) == 401


def test_it_tolerates_a_little_clock_skew(app: App, key_server: KeySetServer, es_key) -> None:
    skewed = key_server.token(app.mentor.auth_user_id, es_key, iat=int(time.time()) + 5)
    assert status_with(skewed) == 200


@pytest.mark.parametrize("missing", ["exp", "iat", "sub", "aud", "iss"])
def test_it_refuses_a_token_without_a_required_claim(
    app: App, key_server: KeySetServer, es_key: SigningKey, missing: str
) -> None:
    claims = claims_for(app.mentor.auth_user_id, key_server.issuer)
    del claims[missing]
    assert status_with(es_key.sign(claims)) == 401


def test_it_refuses_a_token_for_another_audience(app: App, key_server: KeySetServer, es_key):
    other = key_server.token(app.mentor.auth_user_id, es_key, aud="anon")
    assert status_with(other) == 401


def test_it_refuses_a_token_from_another_issuer(app: App, es_key: SigningKey) -> None:
    foreign = es_key.sign(claims_for(app.mentor.auth_user_id, "https://other.supabase.co/auth/v1"))
    assert status_with(foreign) == 401


def test_it_refuses_an_unsigned_token(app: App, key_server: KeySetServer, es_key) -> None:
    claims = claims_for(app.mentor.auth_user_id, key_server.issuer)
    assert status_with(unsigned_token(claims, kid=es_key.kid)) == 401


@pytest.mark.parametrize("legacy_secret", ["", LEGACY_SECRET])
def test_it_refuses_hs256_signed_with_the_published_public_key(
    app: App, key_server: KeySetServer, es_key: SigningKey, settings: Any, legacy_secret: str
) -> None:
    settings.SUPABASE_JWT_SECRET = legacy_secret
    claims = claims_for(app.mentor.auth_user_id, key_server.issuer)
    forged = hs256_token(claims, es_key.public_pem(), kid=es_key.kid)
    assert status_with(forged) == 401


def test_it_refuses_a_token_naming_a_key_the_project_did_not_publish(
    app: App, key_server: KeySetServer, spare_key: SigningKey
) -> None:
    assert status_with(key_server.token(app.mentor.auth_user_id, spare_key)) == 401


def test_it_refuses_a_token_signed_by_another_key_under_a_published_kid(
    app: App, key_server: KeySetServer, es_key: SigningKey, spare_key: SigningKey
) -> None:
    claims = claims_for(app.mentor.auth_user_id, key_server.issuer)
    assert status_with(spare_key.sign(claims, kid=es_key.kid)) == 401


def test_it_refuses_a_token_whose_algorithm_differs_from_its_key(
    app: App, key_server: KeySetServer, es_key: SigningKey, rs_key: SigningKey
) -> None:
    claims = claims_for(app.mentor.auth_user_id, key_server.issuer)
    assert status_with(rs_key.sign(claims, kid=es_key.kid)) == 401


def test_it_refuses_an_anonymous_sign_in(app: App, key_server: KeySetServer, es_key) -> None:
    anonymous = key_server.token(app.mentor.auth_user_id, es_key, is_anonymous=True)
    assert status_with(anonymous) == 401


def test_it_refuses_a_subject_that_is_not_a_user_id(key_server: KeySetServer, es_key) -> None:
    assert status_with(key_server.token("service_role", es_key)) == 401


def test_it_refuses_garbage_and_oversized_tokens(app: App) -> None:
    assert status_with("not-a-token") == 401
    assert status_with(app.token + "A" * 10_000) == 401


def test_it_forbids_a_valid_token_of_an_unlinked_user(key_server: KeySetServer, es_key) -> None:
    response = Client().get(
        "/api/v1/prompts",
        headers={"Authorization": f"Bearer {key_server.token(uuid.uuid4(), es_key)}"},
    )
    assert response.status_code == 403
    assert response.json() == {"detail": "This account is not linked to an active peer mentor."}


def test_it_forbids_an_inactive_mentor(key_server: KeySetServer, es_key: SigningKey) -> None:
    user_id = uuid.uuid4()
    factories.mentor(tokens=0, auth_user_id=user_id, is_active=False)
    assert status_with(key_server.token(user_id, es_key)) == 403


def test_it_accepts_the_legacy_secret_only_when_it_is_set(
    app: App, key_server: KeySetServer, settings: Any
) -> None:
    claims = claims_for(app.mentor.auth_user_id, key_server.issuer)
    legacy = hs256_token(claims, LEGACY_SECRET.encode())
    assert status_with(legacy) == 401
    settings.SUPABASE_JWT_SECRET = LEGACY_SECRET
    assert status_with(legacy) == 200
    assert status_with(hs256_token(claims, b"some-other-secret-of-enough-length")) == 401


def test_it_keeps_tokens_out_of_the_log(
    app: App, key_server: KeySetServer, es_key: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    expired = key_server.token(app.mentor.auth_user_id, es_key, exp=int(time.time()) - 120)
    with caplog.at_level(logging.DEBUG):
        status_with(expired)
        Client().get("/api/v1/prompts", headers={"Authorization": f"Token {expired}"})
    signature = expired.rsplit(".", 1)[1]
    assert caplog.records
    assert signature not in caplog.text
    assert str(app.mentor.auth_user_id) not in caplog.text
