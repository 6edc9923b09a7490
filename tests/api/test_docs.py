"""The API describes itself: OpenAPI schema and interactive docs."""

from __future__ import annotations

import pytest
from django.test import Client


def test_it_serves_the_openapi_schema() -> None:
    schema = Client().get("/api/v1/openapi.json").json()
    assert set(schema["paths"]) == {
        "/api/v1/devices",
        "/api/v1/devices/unregister",
        "/api/v1/activities",
        "/api/v1/activities/{client_id}",
        "/api/v1/prompts",
        "/api/v1/prompts/{prompt_id}/opened",
    }
    assert schema["components"]["securitySchemes"]["MentorBearer"]["scheme"] == "bearer"


def test_it_serves_interactive_docs() -> None:
    response = Client().get("/api/v1/docs")
    assert response.status_code == 200
    assert b"openapi.json" in response.content


@pytest.mark.parametrize(
    "path", ["/api/v1/", "/api/v1", "/api/", "/api/v1/nothing-here", "/api/v2/devices"]
)
def test_it_answers_json_for_an_unknown_api_path(path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


def test_it_answers_json_for_a_method_a_route_lacks() -> None:
    response = Client().put("/api/v1/devices")
    assert response.status_code == 405
    assert response.json() == {"detail": "Method not allowed."}
    assert response["Allow"] == "POST"
