"""Guessing admin passwords: django-axes locks a user name, and an address, after a few failures."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import translation

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


def test_it_lets_the_user_in_from_another_address_after_failures_elsewhere(db: None) -> None:
    # Anyone can fail with a coordinator's name; that must not lock the coordinator out.
    fail("kari", "10.0.0.1")
    client, status = log_in("kari", PASSWORD, "10.0.0.2")
    assert status == 302 and is_logged_in(client)


def test_it_locks_the_user_name_from_the_address_that_failed(db: None) -> None:
    fail("kari", "10.0.0.1")
    assert log_in("kari", PASSWORD, "10.0.0.1")[1] == 429


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


def test_it_counts_the_client_behind_the_proxy(db: None, settings: Any) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXY_NETWORKS = []
    fail("anne", "10.9.9.9", HTTP_X_FORWARDED_FOR="203.0.113.5")
    # Same proxy, another client: its address is not the locked one.
    assert log_in("ola", PASSWORD, "10.9.9.9", HTTP_X_FORWARDED_FOR="203.0.113.6")[1] == 302
    assert log_in("ola", PASSWORD, "10.9.9.9", HTTP_X_FORWARDED_FOR="203.0.113.5")[1] == 429


def test_it_counts_forged_forwarded_for_entries_on_the_address_the_proxy_saw(
    db: None, settings: Any
) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXY_NETWORKS = []
    for n in range(LIMIT):
        fail("anne", "10.9.9.9", times=1, HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 203.0.113.5")
    assert log_in("ola", PASSWORD, "10.9.9.9", HTTP_X_FORWARDED_FOR="203.0.113.5")[1] == 429


def test_it_counts_a_request_that_bypassed_the_proxy_at_its_own_address(
    db: None, settings: Any
) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXY_NETWORKS = ["10.9.9.0/24"]
    # Straight to the app, a new X-Forwarded-For each time: all counted on the sender.
    for n in range(LIMIT):
        fail("anne", "198.51.100.7", times=1, HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    assert log_in("ola", PASSWORD, "198.51.100.7", HTTP_X_FORWARDED_FOR="192.0.2.200")[1] == 429
    # Through the proxy, another client is not affected.
    assert log_in("ola", PASSWORD, "10.9.9.9", HTTP_X_FORWARDED_FOR="192.0.2.201")[1] == 302


@pytest.fixture
def alert_after_six(settings: Any) -> None:
    settings.LOGIN_ALERT_FAILURES_PER_USERNAME = 6


def admin_page(user: User) -> str:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client.get("/admin/").content.decode()


def test_it_tells_superusers_when_one_user_name_fails_from_many_addresses(
    db: None, alert_after_six: None, caplog: pytest.LogCaptureFixture
) -> None:
    root = User.objects.create_superuser("root", "root@example.org", PASSWORD)
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        fail("kari", address, times=2)
    # Reported, not locked: the coordinator still gets in.
    assert log_in("kari", PASSWORD, "10.0.0.4")[1] == 302
    html = admin_page(root)
    assert 'id="login-alert-banner"' in html
    assert "6 failed logins for the user name “kari” from 3 addresses" in html
    [warning] = [r for r in caplog.records if r.name == "scheduler.admin.login"]
    assert warning.levelname == "WARNING" and "'kari'" in warning.getMessage()


def test_it_shows_the_alert_to_superusers_only(db: None, alert_after_six: None) -> None:
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        fail("kari", address, times=2)
    ola = User.objects.get(username="ola")
    assert 'id="login-alert-banner"' not in admin_page(ola)


def test_it_says_nothing_below_the_alert_limit(db: None, alert_after_six: None) -> None:
    root = User.objects.create_superuser("root", "root@example.org", PASSWORD)
    fail("kari", "10.0.0.1", times=5)
    assert 'id="login-alert-banner"' not in admin_page(root)


def test_it_escapes_a_made_up_user_name_in_the_alert(db: None, alert_after_six: None) -> None:
    root = User.objects.create_superuser("root", "root@example.org", PASSWORD)
    for address in ("10.0.0.1", "10.0.0.2"):
        fail("<b>x</b>", address, times=3)
    html = admin_page(root)
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
