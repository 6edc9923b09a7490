from __future__ import annotations

import pytest
from django.test import Client
from prometheus_client import REGISTRY

from scheduler.dispatch.pipeline import run_dispatch
from scheduler.models import PromptStatus
from scheduler.push import locmem
from tests import factories

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-7c2e"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def enabled(settings: object) -> None:
    settings.METRICS_ENABLED = True
    settings.METRICS_ALLOWED_IPS = ["10.0.0.7"]
    settings.METRICS_TOKEN = TOKEN


def test_it_is_not_there_unless_enabled(client: Client, settings: object) -> None:
    settings.METRICS_ENABLED = False
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    assert client.get("/metrics").status_code == 404


def test_it_refuses_other_addresses_and_wrong_tokens(client: Client, enabled: None) -> None:
    assert client.get("/metrics", REMOTE_ADDR="10.0.0.8").status_code == 403
    wrong = client.get("/metrics", REMOTE_ADDR="10.0.0.8", HTTP_AUTHORIZATION="Bearer nope")
    assert wrong.status_code == 403


def test_it_lets_in_an_allowed_address_or_the_token(client: Client, enabled: None) -> None:
    assert client.get("/metrics", REMOTE_ADDR="10.0.0.7").status_code == 200
    by_token = client.get("/metrics", REMOTE_ADDR="10.0.0.8", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert by_token.status_code == 200
    assert by_token["Content-Type"].startswith("text/plain")


def test_it_counts_a_runs_prompts_duration_success_and_push_latency(
    client: Client, enabled: None
) -> None:
    factories.scenario()
    factories.activity(factories.mentor(tokens=1), days_ago=3)
    factories.activity(factories.mentor(tokens=0), days_ago=3)
    before = {
        "dispatched": sample("scheduler_prompts_total", status=PromptStatus.DISPATCHED),
        "skipped": sample("scheduler_prompts_total", status=PromptStatus.SKIPPED),
        "runs": sample("scheduler_dispatch_run_duration_seconds_count"),
        "pushes": sample(
            "scheduler_push_request_duration_seconds_count",
            backend="LocmemBackend",
            outcome="delivered",
        ),
    }
    run_dispatch(backend=locmem.LocmemBackend())
    body = client.get("/metrics", REMOTE_ADDR="10.0.0.7").content.decode()
    assert (
        sample("scheduler_prompts_total", status=PromptStatus.DISPATCHED)
        == before["dispatched"] + 1
    )
    assert sample("scheduler_prompts_total", status=PromptStatus.SKIPPED) == before["skipped"] + 1
    assert sample("scheduler_dispatch_run_duration_seconds_count") == before["runs"] + 1
    assert (
        sample(
            "scheduler_push_request_duration_seconds_count",
            backend="LocmemBackend",
            outcome="delivered",
        )
        == before["pushes"] + 1
    )
    assert sample("scheduler_last_successful_run_timestamp_seconds") > 0
    assert 'scheduler_prompts_total{status="dispatched"}' in body
    assert "scheduler_last_successful_run_timestamp_seconds" in body
    assert "device-token" not in body and "Mentor" not in body


def test_it_lets_in_the_client_behind_the_proxy_not_the_proxy(
    client: Client, enabled: None, settings: object
) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXY_NETWORKS = []
    # The proxy itself is on an allowed address; what counts is who it forwards.
    outsider = client.get("/metrics", REMOTE_ADDR="10.0.0.7", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert outsider.status_code == 403
    scraper = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="10.0.0.7")
    assert scraper.status_code == 200


def test_it_ignores_forwarded_for_without_a_trusted_proxy(
    client: Client, enabled: None, settings: object
) -> None:
    settings.TRUSTED_PROXY_COUNT = 0
    forged = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="10.0.0.7")
    assert forged.status_code == 403
