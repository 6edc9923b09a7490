from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.loopback import LoopbackServer


@pytest.fixture
def push_service() -> Iterator[LoopbackServer]:
    """A loopback Supabase Edge Function; each test scripts how it answers."""
    with LoopbackServer() as server:
        yield server
