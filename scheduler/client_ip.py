"""The client's address: the peer's, or the one the outermost trusted proxy saw.

Every proxy appends the address it received the request from to
`X-Forwarded-For`, so with `TRUSTED_PROXY_COUNT` = N proxies in front of the
app, the N-th entry from the right was written by the outermost of our own
proxies and is the client's. Entries further left come from the client and can
say anything; they are never read. With N = 0 (no proxy) the header is ignored
and `REMOTE_ADDR` is the client. A request that did not come from a proxy (its
peer outside `TRUSTED_PROXY_NETWORKS`, when that is set, or fewer entries than
proxies) is taken at its peer's address, whatever its header says. The login
throttle (django-axes), /metrics and the API throttle all ask here.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_ip(request: HttpRequest) -> str | None:
    peer = request.META.get("REMOTE_ADDR") or None
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0 or not from_trusted_proxy(peer):
        return peer
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if len(forwarded) < count:
        # Fewer entries than proxies: the request did not pass through all of them.
        return peer
    try:
        return str(ipaddress.ip_address(forwarded[-count]))
    except ValueError:
        return peer


def from_trusted_proxy(peer: str | None) -> bool:
    networks = trusted_networks(tuple(settings.TRUSTED_PROXY_NETWORKS))
    if not networks:
        return True  # any peer: the app must be reachable only through the proxy
    try:
        address = ipaddress.ip_address(peer or "")
    except ValueError:
        return False
    return any(address in network for network in networks)


@lru_cache(maxsize=4)
def trusted_networks(given: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(value, strict=False) for value in given)
