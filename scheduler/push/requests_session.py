"""The requests side of the HTTP backends (FCM and its token exchange): options, pooled sessions,
redirects refused."""

from __future__ import annotations

from http.cookiejar import DefaultCookiePolicy
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from scheduler.push.config import environment_for


def post_options(timeout: float | tuple[float, float], url: str) -> dict[str, Any]:
    """What every push POST to `url` through requests is sent with; worked out once.

    Redirects are never followed: requests would resend the `apikey` header to
    wherever the Location points, and a 302/303 turns the POST into a GET whose
    2xx would count as delivered although nothing was sent.
    """
    proxies, ca_bundle = environment_for(url)
    return {
        "timeout": timeout,
        "stream": True,
        "allow_redirects": False,
        "proxies": proxies,
        "verify": ca_bundle or True,
    }


class RedirectRefused(requests.RequestException):
    """A redirect answer, refused rather than followed."""


class NoRedirectSession(requests.Session):
    """A session that refuses every redirect, for a library that sends its own requests.

    google-auth's token exchange cannot be told `allow_redirects=False`; through
    this session a redirect raises instead, which google-auth reports as a
    TransportError caused by RedirectRefused.
    """

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        kwargs["allow_redirects"] = False
        response = super().request(method, url, *args, **kwargs)
        if 300 <= response.status_code < 400:
            response.close()
            raise RedirectRefused(f"HTTP {response.status_code}", response=response)
        return response


def pooled_adapter(concurrency: int) -> HTTPAdapter:
    # No automatic retries: a repeated POST could deliver twice; the pipeline retries.
    size = max(concurrency, 1)
    return HTTPAdapter(pool_connections=2, pool_maxsize=size, max_retries=0)


def mount_pool(session: requests.Session, concurrency: int) -> None:
    adapter = pooled_adapter(concurrency)
    session.trust_env = False  # see environment_for
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    # A push service has no business setting cookies that later requests would carry.
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
