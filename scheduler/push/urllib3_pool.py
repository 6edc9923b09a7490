"""The urllib3 side of the HTTP backends (Supabase): one pool of connections, its timeouts."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import certifi
import urllib3

from scheduler.push.http_common import environment_for


def pool_manager(url: str, concurrency: int) -> urllib3.PoolManager:
    """Pooled connections to one push service, without requests on top.

    The proxy and CA bundle come from `environment_for`; no retries (a
    repeated POST could deliver twice: the pipeline retries) and, per
    request, no redirects.
    """
    proxies, ca_bundle = environment_for(url)
    proxy = proxies.get(urlsplit(url).scheme) or proxies.get("all")
    options: dict[str, Any] = {
        "maxsize": max(concurrency, 1),
        "retries": False,
        "cert_reqs": "CERT_REQUIRED",
        "ca_certs": ca_bundle or certifi.where(),
    }
    if proxy:
        return urllib3.ProxyManager(proxy, **options)
    return urllib3.PoolManager(**options)


def urllib3_timeout(timeout: float | tuple[float, float]) -> urllib3.Timeout:
    connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    return urllib3.Timeout(connect=connect, read=read)
