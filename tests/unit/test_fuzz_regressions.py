"""Defects the schema fuzzing (tests/fuzz) found, each pinned with its minimal failing input.

docs/hostile-input.md keeps the list with how each one was fixed.
"""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from auth_service.main import create_app as create_auth_app
from auth_service.settings import AuthSettings
from orders_service.main import create_app as create_orders_app
from orders_service.settings import OrdersSettings
from servicekit.app import create_service_app
from servicekit.settings import ServiceSettings


def _apps() -> dict[str, FastAPI]:
    return {
        "auth": create_auth_app(AuthSettings(environment="test")),
        "orders": create_orders_app(OrdersSettings(environment="test")),
    }


@pytest.mark.parametrize("service", ["auth", "orders"])
async def test_f1_liveness_is_documented_as_the_media_type_it_sends(service: str) -> None:
    """F1: `GET /health/live` sent `application/health+json` while its OpenAPI documented
    `application/json` (schemathesis ST105, undocumented Content-Type)."""
    app = _apps()[service]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/health/live")
    documented = app.openapi()["paths"]["/health/live"]["get"]["responses"]["200"]["content"]
    assert response.headers["content-type"] == "application/health+json"
    assert list(documented) == ["application/health+json"]
    assert documented["application/health+json"]["schema"]["required"] == ["status"]


async def test_f2_a_405_names_every_method_the_path_serves() -> None:
    """F2: `PUT /api/v1/users` (GET and POST served by two routes) answered 405 with
    `Allow: GET`: Starlette names only the first route matching the path (schemathesis
    ST205, Allow header mismatch)."""
    router = APIRouter()

    @router.get("/things")
    async def list_things() -> list[int]:
        return []

    @router.post("/things")
    async def make_thing() -> int:
        return 1

    @router.delete("/things/{thing_id}")
    async def drop_thing(thing_id: int) -> None:
        return None

    app = create_service_app(
        settings=ServiceSettings(service_name="t"), title="t", version="0", routers=[router]
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        put = await client.put("/things")
        patch = await client.patch("/things/3")
    assert put.status_code == 405
    assert put.headers["content-type"] == "application/problem+json"
    assert put.headers["allow"] == "GET, POST"
    assert patch.headers["allow"] == "DELETE"
