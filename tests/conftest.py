from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django.db import connection

from scheduler.push import locmem


@pytest.fixture(autouse=True)
def empty_outbox() -> Iterator[None]:
    locmem.reset()
    yield
    locmem.reset()


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("postgres") and connection.vendor != "postgresql":
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL test ran without PostgreSQL under CI (set DATABASE_URL).")
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://... (make test does)")
