"""Security headers on every answer, no-store where a caller's data may be, CORS only on demand."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from tests.support.limits_app import LimitsTestSettings, create_app

ORIGIN = "https://app.example.com"


def _client(**settings: Any) -> httpx.AsyncClient:
    app = create_app(LimitsTestSettings(**settings))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("GET", "/health/live", {}, 200),
        ("GET", "/search", {"params": {"q": "x"}}, 200),
        ("GET", "/nowhere", {}, 404),
        ("POST", "/echo", {"json": {"unknown": 1}}, 422),
        ("DELETE", "/search", {}, 405),
        ("POST", "/upload", {"content": b"x" * 2_000_000}, 413),
    ],
)
async def test_every_answer_says_nosniff_and_names_no_server(
    method: str, path: str, kwargs: dict[str, Any], status: int
) -> None:
    async with _client() as client:
        response = await client.request(method, path, **kwargs)
    assert response.status_code == status
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "server" not in response.headers
    assert "x-powered-by" not in response.headers


async def test_authenticated_responses_are_no_store_and_anonymous_ones_are_not() -> None:
    async with _client() as client:
        authed = await client.get("/search", headers={"Authorization": "Bearer abc"})
        failed = await client.get("/nowhere", headers={"Authorization": "Bearer abc"})
        anonymous = await client.get("/search")
    assert authed.headers["cache-control"] == "no-store"
    assert failed.headers["cache-control"] == "no-store"
    assert "cache-control" not in anonymous.headers


async def test_a_route_that_caches_on_purpose_keeps_its_policy() -> None:
    async with _client() as client:
        response = await client.get("/cached", headers={"Authorization": "Bearer abc"})
    assert response.headers.get_list("cache-control") == ["public, max-age=60"]


async def test_token_paths_are_no_store_even_without_authorization() -> None:
    async with _client() as client:
        response = await client.post("/oauth/token", data={"grant_type": "password"})
    assert response.headers["cache-control"] == "no-store"


async def test_cors_is_off_by_default() -> None:
    async with _client() as client:
        preflight = await client.options(
            "/search", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}
        )
        simple = await client.get("/search", headers={"Origin": ORIGIN})
    assert preflight.status_code == 405
    assert preflight.headers["content-type"] == "application/problem+json"
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in simple.headers


async def test_cors_allows_exactly_the_listed_origins() -> None:
    async with _client(cors_allow_origins=[ORIGIN]) as client:
        preflight = await client.options(
            "/echo",
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        allowed = await client.get("/search", headers={"Origin": ORIGIN})
        other = await client.get("/search", headers={"Origin": "https://evil.example"})
        refused = await client.options(
            "/echo",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert "access-control-allow-credentials" not in preflight.headers
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    assert "x-request-id" in allowed.headers["access-control-expose-headers"].lower()
    assert "access-control-allow-origin" not in other.headers
    assert refused.status_code == 400
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"].endswith("/cors-refused")
    assert "access-control-allow-origin" not in refused.headers


@pytest.mark.parametrize("origin", ["*", "app.example.com", "https://app.example.com/"])
def test_cors_takes_only_explicit_origins(origin: str) -> None:
    with pytest.raises(ValidationError, match="explicit origins"):
        LimitsTestSettings(cors_allow_origins=[origin])
