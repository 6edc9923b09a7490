"""Every error is JSON `{"detail": ...}`, and none repeats what the caller sent."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, Throttled, ValidationError

logger = logging.getLogger(__name__)

# Where pydantic puts a field, before its name.
LOCATIONS = {"body", "path", "query", "payload", "data"}
API_PREFIX = "/api/"
DETAILS = {404: "Not found.", 405: "Method not allowed."}


# The handlers take `exc: Any`: django-ninja's stub types it as the exception or its class.
def install(api: NinjaAPI) -> None:
    api.add_exception_handler(ValidationError, invalid_input)
    api.add_exception_handler(AuthenticationError, unauthenticated)
    api.add_exception_handler(Throttled, too_many_requests)
    api.add_exception_handler(Http404, not_found)
    api.add_exception_handler(SuspiciousOperation, refused_request)
    api.add_exception_handler(Exception, server_error)


def invalid_input(request: HttpRequest, exc: Any) -> HttpResponse:
    # Pydantic's errors carry the rejected input; a field name and a message suffice.
    errors = [
        {"field": field_of(error.get("loc", ())), "message": str(error.get("msg", "invalid"))}
        for error in exc.errors
    ]
    return json_error(request, errors, 422)


def field_of(loc: tuple[object, ...] | list[object]) -> str:
    names = [str(part) for part in loc if str(part) not in LOCATIONS]
    return ".".join(names) or "body"


def unauthenticated(request: HttpRequest, exc: Any) -> HttpResponse:
    response = json_error(request, "A valid Supabase access token is required.", 401)
    response["WWW-Authenticate"] = 'Bearer realm="mentor-app"'
    return response


def too_many_requests(request: HttpRequest, exc: Any) -> HttpResponse:
    response = json_error(request, "Too many requests.", 429)
    if exc.wait is not None:
        response["Retry-After"] = str(math.ceil(exc.wait))
    return response


def not_found(request: HttpRequest, exc: Any) -> HttpResponse:
    return json_error(request, "Not found.", 404)


def refused_request(request: HttpRequest, exc: Any) -> HttpResponse:
    if isinstance(exc, RequestDataTooBig):
        return json_error(request, "The request body is too large.", 413)
    return json_error(request, "Bad request.", 400)


def server_error(request: HttpRequest, exc: Any) -> HttpResponse:
    logger.exception("mentor app API: unhandled error on %s %s", request.method, request.path)
    return json_error(request, "Something went wrong on our side.", 500)


def unknown_route(request: HttpRequest, rest: str = "") -> HttpResponse:
    """A path under /api/ that no route matches: JSON too, not the site's HTML page."""
    return json_error(request, "Not found.", 404)


def json_error(request: HttpRequest, detail: object, status: int) -> HttpResponse:
    return JsonResponse({"detail": detail}, status=status)


class JsonErrorsUnderApi:
    """Under /api/, an error page that Django or django-ninja renders outside the
    API's handlers (the 404 of the API root, a 405 for a method a route lacks)
    becomes `{"detail": ...}` like every other answer; its headers (`Allow`) stay."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if not request.path.startswith(API_PREFIX) or response.status_code < 400:
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        return as_json(request, response)


def as_json(request: HttpRequest, page: HttpResponseBase) -> HttpResponse:
    detail = DETAILS.get(page.status_code, f"{page.reason_phrase}.")
    response = json_error(request, detail, page.status_code)
    for header, value in page.items():
        if header.lower() not in ("content-type", "content-length"):
            response[header] = value
    return response
