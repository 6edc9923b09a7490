"""A phone that retries before the first answer arrives still gets one row (PostgreSQL)."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from scheduler.models import Activity, DeviceToken
from tests.api.conftest import App

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PARALLEL = 6


def at_once(app: App, path: str, body: dict) -> list[int]:
    start = threading.Barrier(PARALLEL)

    def send(_: int) -> int:
        try:
            start.wait()
            return app.post(path, body).status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(PARALLEL) as pool:
        return sorted(pool.map(send, range(PARALLEL)))


def test_it_writes_one_activity_for_simultaneous_retries(app: App) -> None:
    body = {
        "client_id": str(uuid.uuid4()),
        "contact_ref": "K-9",
        "kind": "follow_up",
        "occurred_at": (timezone.now() - timedelta(hours=1)).isoformat(),
        "wellbeing_concern": False,
    }
    assert at_once(app, "/activities", body) == [200] * (PARALLEL - 1) + [201]
    assert Activity.objects.count() == 1


def test_it_keeps_one_row_for_simultaneous_registrations(app: App) -> None:
    statuses = at_once(app, "/devices", {"token": "device-token-raced", "platform": "ios"})
    assert statuses == [200] * (PARALLEL - 1) + [201]
    assert DeviceToken.objects.filter(token="device-token-raced").count() == 1
