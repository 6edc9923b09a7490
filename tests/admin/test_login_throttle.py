"""Guessing admin passwords: django-axes locks a user name, and an address, after a few failures."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import translation

from scheduler.admin.login import client_ip_address
from tests.admin.conftest import PASSWORD, World, make_coordinator

LOGIN = reverse("admin:login")
LIMIT = settings.AXES_FAILURE_LIMIT


@pytest.fixture(autouse=True)
def users(world: World) -> None:
    make_coordinator("kari", world.home)
    make_coordinator("ola", world.other)


def log_in(username: str, password: str, address: str, **headers: str) -> tuple[Client, int]:
    client = Client(REMOTE_ADDR=address, HTTP_ACCEPT_LANGUAGE="en", **headers)
    response = client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"})
    return client, response.status_code


def is_logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def fail(username: str, address: str, times: int = LIMIT, **headers: str) -> None:
    for _ in range(times):
        log_in(username, "wrong-password", address, **headers)


def test_it_logs_in_with_the_right_password(db: None) -> None:
    client, status = log_in("kari", PASSWORD, "10.0.0.1")
    assert status == 302 and is_logged_in(client)


def test_it_refuses_the_right_password_after_too_many_wrong_ones(db: None) -> None:
    fail("kari", "10.0.0.1")
    client, status = log_in("kari", PASSWORD, "10.0.0.1")
    assert status == 429
    assert not is_logged_in(client)


def test_it_says_why_the_login_is_refused(db: None) -> None:
    fail("kari", "10.0.0.1")
    client = Client(REMOTE_ADDR="10.0.0.1", HTTP_ACCEPT_LANGUAGE="en")
    page = client.post(LOGIN, {"username": "kari", "password": PASSWORD}).content.decode()
    assert "blocked for 15 minutes" in page
    assert "kari" not in page


def test_it_says_why_in_norwegian(db: None) -> None:
    fail("kari", "10.0.0.1")
    client = Client(REMOTE_ADDR="10.0.0.1", HTTP_ACCEPT_LANGUAGE="nb")
    with translation.override("nb"):
        page = client.post(LOGIN, {"username": "kari", "password": PASSWORD}).content.decode()
    assert "sperret i 15 minutter" in page


def test_it_locks_the_user_name_from_another_address_too(db: None) -> None:
    fail("kari", "10.0.0.1")
    assert log_in("kari", PASSWORD, "10.0.0.2")[1] == 429


def test_it_locks_an_address_that_tries_many_user_names(db: None) -> None:
    for name in ("anne", "bjorn", "cecilie", "dag", "eva"):
        fail(name, "10.0.0.9", times=1)
    assert log_in("ola", PASSWORD, "10.0.0.9")[1] == 429


def test_it_lets_another_user_from_another_address_log_in(db: None) -> None:
    fail("kari", "10.0.0.1")
    client, status = log_in("ola", PASSWORD, "10.0.0.2")
    assert status == 302 and is_logged_in(client)


def test_it_forgets_earlier_failures_after_a_successful_login(db: None) -> None:
    fail("kari", "10.0.0.1", times=LIMIT - 1)
    assert log_in("kari", PASSWORD, "10.0.0.1")[1] == 302
    fail("kari", "10.0.0.1", times=LIMIT - 1)
    assert log_in("kari", PASSWORD, "10.0.0.1")[1] == 302


def test_it_counts_the_client_behind_the_proxy(db: None, settings: object) -> None:
    settings.AXES_CLIENT_IP_CALLABLE = client_ip_address  # type: ignore[attr-defined]
    fail("anne", "10.9.9.9", HTTP_X_FORWARDED_FOR="203.0.113.5")
    # Same proxy, another client: its address is not the locked one.
    assert log_in("ola", PASSWORD, "10.9.9.9", HTTP_X_FORWARDED_FOR="203.0.113.6")[1] == 302
    assert log_in("ola", PASSWORD, "10.9.9.9", HTTP_X_FORWARDED_FOR="203.0.113.5")[1] == 429


def test_it_takes_the_address_the_proxy_appended() -> None:
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.5"
    )
    assert client_ip_address(request) == "203.0.113.5"


def test_it_falls_back_to_the_peer_address_without_a_usable_header() -> None:
    request = RequestFactory().get("/", REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="junk")
    assert client_ip_address(request) == "10.9.9.9"
