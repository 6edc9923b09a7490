"""Whose address a request is: the peer's, or what the outermost of our proxies saw."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import RequestFactory

from scheduler.client_ip import client_ip


def address(forwarded: str | None = None, peer: str = "10.9.9.9") -> str | None:
    headers = {} if forwarded is None else {"HTTP_X_FORWARDED_FOR": forwarded}
    return client_ip(RequestFactory().get("/", REMOTE_ADDR=peer, **headers))


@pytest.fixture
def proxies(settings: Any) -> Any:
    settings.TRUSTED_PROXY_NETWORKS = []
    return settings


def test_it_ignores_the_header_without_a_trusted_proxy(proxies: Any) -> None:
    proxies.TRUSTED_PROXY_COUNT = 0
    assert address("203.0.113.5") == "10.9.9.9"


def test_it_takes_the_address_our_one_proxy_appended(proxies: Any) -> None:
    proxies.TRUSTED_PROXY_COUNT = 1
    assert address("1.2.3.4, 203.0.113.5") == "203.0.113.5"


def test_it_takes_the_address_the_outermost_of_two_proxies_saw(proxies: Any) -> None:
    # The client forged 1.2.3.4; the CDN saw 203.0.113.5; the load balancer, the CDN.
    proxies.TRUSTED_PROXY_COUNT = 2
    assert address("1.2.3.4, 203.0.113.5, 198.51.100.20") == "203.0.113.5"


@pytest.mark.parametrize("forwarded", [None, "", "junk", "203.0.113.5:4711"])
def test_it_falls_back_to_the_peer_without_a_usable_entry(proxies: Any, forwarded: str) -> None:
    proxies.TRUSTED_PROXY_COUNT = 1
    assert address(forwarded) == "10.9.9.9"


def test_it_falls_back_to_the_peer_with_fewer_entries_than_proxies(proxies: Any) -> None:
    proxies.TRUSTED_PROXY_COUNT = 2
    assert address("203.0.113.5") == "10.9.9.9"


def test_it_ignores_the_header_of_a_request_that_bypassed_the_proxy(proxies: Any) -> None:
    proxies.TRUSTED_PROXY_COUNT = 1
    proxies.TRUSTED_PROXY_NETWORKS = ["10.9.9.0/24", "::1"]
    assert address("203.0.113.5", peer="10.9.9.9") == "203.0.113.5"
    assert address("203.0.113.5", peer="198.51.100.7") == "198.51.100.7"


def test_it_normalises_an_ipv6_address(proxies: Any) -> None:
    proxies.TRUSTED_PROXY_COUNT = 1
    assert address("2001:DB8:0:0::1") == "2001:db8::1"
