"""Defects the schema fuzzing (tests/fuzz) found, each pinned with its minimal failing input.

docs/hostile-input.md keeps the list with how each one was fixed.
"""

from __future__ import annotations

import re

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


URI_REFERENCE = re.compile(r"^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?#]|%[0-9A-Fa-f]{2})*$")


@pytest.mark.parametrize(
    ("sent", "instance"),
    [
        ("/things/%C2%A0%F2%90%A8%AD4", "/things/%C2%A0%F2%90%A8%AD4"),  # the fuzzer's input
        ("/things/a%20b", "/things/a%20b"),
        ("/things/100%25", "/things/100%25"),
        ("/things/(x)", "/things/(x)"),
    ],
)
async def test_f3_problem_instance_is_a_uri_reference(sent: str, instance: str) -> None:
    """F3: `GET /api/v1/users/%C2%A0...` answered a problem whose `instance` was the decoded
    path, holding a no-break space and non-ASCII characters: not the URI reference RFC 9457
    (and the documented Problem schema) require (schemathesis ST108)."""
    app = create_service_app(settings=ServiceSettings(service_name="t"), title="t", version="0")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get(sent)
    assert response.status_code == 404
    body = response.json()
    assert body["instance"] == instance
    assert URI_REFERENCE.match(body["instance"])
