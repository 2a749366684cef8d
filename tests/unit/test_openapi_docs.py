"""The OpenAPI both services publish: bearer scheme, problem+json errors, Idempotency-Key."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from auth_service.main import create_app as create_auth_app
from auth_service.settings import AuthSettings
from orders_service.main import create_app as create_orders_app
from orders_service.settings import OrdersSettings
from servicekit.core.problems import PROBLEM_CONTENT_TYPE
from servicekit.core.settings import ServiceSettings
from servicekit.web.app import create_service_app
from servicekit.web.docs import idempotency_key
from servicekit.web.security import PrincipalDep


def _app_with_marked_routes() -> FastAPI:
    router = APIRouter(prefix="/api/v1")

    @router.post("/pedidos", status_code=201, openapi_extra=idempotency_key(required=True))
    async def create_pedido(caller: PrincipalDep, body: dict[str, Any]) -> dict[str, Any]:
        return body

    @router.get("/pedidos/{pedido_id}", responses={404: {"description": "No such pedido"}})
    async def read_pedido(caller: PrincipalDep, pedido_id: int) -> dict[str, int]:
        return {"id": pedido_id}

    return create_service_app(
        settings=ServiceSettings(environment="test"),
        title="marked",
        version="1.0",
        routers=[router],
    )


def _schema(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


@pytest.mark.parametrize(
    "app",
    [
        create_auth_app(AuthSettings(environment="test")),
        create_orders_app(OrdersSettings(environment="test")),
    ],
    ids=["auth", "orders"],
)
def test_each_service_declares_the_bearer_scheme_and_problem_schema(app: FastAPI) -> None:
    schema = _schema(app)
    scheme = schema["components"]["securitySchemes"]["bearerAuth"]
    assert scheme == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": scheme["description"],
    }
    assert schema["components"]["schemas"]["Problem"]["required"] == ["type", "title", "status"]
    assert {"/health/live", "/health/ready", "/health/startup"} <= schema["paths"].keys()
    assert "/metrics" not in schema["paths"]
    assert "/docs" not in schema["paths"]


def _served_schema(app: FastAPI) -> dict[str, Any]:
    """The document as a client fetches it: GET /openapi.json of the real app."""
    transport = httpx.ASGITransport(app=app)

    async def fetch() -> dict[str, Any]:
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            response = await client.get("/openapi.json")
            assert response.status_code == 200
            body: dict[str, Any] = response.json()
            return body

    return asyncio.run(fetch())


# (service, method, path) -> the role its declaration needs; None: any valid token.
DECLARED = {
    ("orders", "get", "/api/v1/items/{item_id}"): "viewer",
    ("orders", "post", "/api/v1/items"): "editor",
    ("orders", "delete", "/api/v1/items/{item_id}"): "admin",
    ("orders", "get", "/api/v1/pedidos"): "viewer",
    ("orders", "post", "/api/v1/pedidos/{pedido_id}/cancel"): "admin",
    ("auth", "get", "/api/v1/users"): "admin",
    ("auth", "post", "/api/v1/clients"): "admin",
    ("auth", "get", "/api/v1/users/me"): None,
}
APPS = {
    "auth": lambda: create_auth_app(AuthSettings(environment="test")),
    "orders": lambda: create_orders_app(OrdersSettings(environment="test")),
}


@pytest.mark.parametrize("service", ["auth", "orders"])
def test_real_apps_derive_security_401_403_and_role_from_route_declarations(
    service: str,
) -> None:
    schema = _served_schema(APPS[service]())
    checked = 0
    for (name, method, path), role in DECLARED.items():
        if name != service:
            continue
        op = schema["paths"][path][method]
        assert op["security"] == [{"bearerAuth": []}], (method, path)
        assert PROBLEM_CONTENT_TYPE in op["responses"]["401"]["content"]
        assert "WWW-Authenticate" in op["responses"]["401"]["headers"]
        if role is None:
            assert "403" not in op["responses"], path
        else:
            assert op["x-required-role"] == role, path
            assert f"role `{role}` or higher" in op["description"], path
            assert PROBLEM_CONTENT_TYPE in op["responses"]["403"]["content"], path
        checked += 1
    assert checked >= 3
    # Public operations declare nothing: no lock in Swagger UI, no 401 promised.
    public = [("/health/live", "get"), ("/.well-known/jwks.json", "get"), ("/oauth/token", "post")]
    for path, method in public:
        if path in schema["paths"]:
            op = schema["paths"][path][method]
            assert "security" not in op, path
            # /oauth/token answers 401 invalid_client of its own (RFC 6749), not a bearer one.
            assert "WWW-Authenticate" not in op["responses"].get("401", {}).get("headers", {})


def test_every_api_operation_of_orders_is_secured() -> None:
    schema = _served_schema(APPS["orders"]())
    for path, item in schema["paths"].items():
        if path.startswith("/api/v1"):
            for method, op in item.items():
                assert op.get("security") == [{"bearerAuth": []}], (method, path)
                assert op["x-required-permissions"], (method, path)


def test_declared_token_route_documents_401_and_problem_errors() -> None:
    schema = _schema(_app_with_marked_routes())
    op = schema["paths"]["/api/v1/pedidos/{pedido_id}"]["get"]
    assert op["security"] == [{"bearerAuth": []}]
    for code in ("401", "404", "422", "default"):
        assert PROBLEM_CONTENT_TYPE in op["responses"][code]["content"], code
    assert op["responses"]["422"]["content"][PROBLEM_CONTENT_TYPE]["schema"] == {
        "$ref": "#/components/schemas/ValidationProblem"
    }
    assert "HTTPValidationError" not in schema["components"]["schemas"]


def test_marked_route_documents_the_idempotency_key_header() -> None:
    schema = _schema(_app_with_marked_routes())
    op = schema["paths"]["/api/v1/pedidos"]["post"]
    [header] = [p for p in op["parameters"] if p["name"] == "Idempotency-Key"]
    assert header["in"] == "header"
    assert header["required"] is True
    assert {"400", "409", "422"} <= op["responses"].keys()
    unmarked = schema["paths"]["/api/v1/pedidos/{pedido_id}"]["get"]
    assert all(p["name"] != "Idempotency-Key" for p in unmarked.get("parameters", []))


async def test_docs_pages_reference_only_their_own_assets() -> None:
    app = create_auth_app(AuthSettings(environment="test"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        for page in ("/docs", "/redoc"):
            html = (await client.get(page)).text
            assert "/docs/assets/" in html
            assert "https://" not in html
            assert "http://" not in html
        for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
            response = await client.get(f"/docs/assets/{asset}")
            assert response.status_code == 200
            assert len(response.content) > 10_000


def test_no_ref_in_any_service_document_points_outside_components() -> None:
    """ReDoc resolves refs from the document root: a nested `#/$defs/...` breaks it."""
    for app in (create_auth_app(), create_orders_app()):
        text = json.dumps(app.openapi())
        assert '"$defs"' not in text
        assert "#/$defs/" not in text
        for ref in re.findall(r'"\$ref": "([^"]+)"', text):
            name = ref.removeprefix("#/components/schemas/")
            assert name in app.openapi()["components"]["schemas"], ref


def test_orders_documents_idempotency_on_every_post_and_patch_of_its_api() -> None:
    """Each write under /api/v1 states the header (required on POST /pedidos and confirm),
    its scope and lifetimes, the replay headers, and the 400/409/422/503 answers."""
    settings = OrdersSettings(environment="test", idempotency_ttl_s=36 * 3600)
    schema = _schema(create_orders_app(settings))
    required = {("post", "/api/v1/pedidos"), ("post", "/api/v1/pedidos/{pedido_id}/confirm")}
    writes = [
        (method, path, op)
        for path, item in schema["paths"].items()
        if path.startswith("/api/v1")
        for method, op in item.items()
        if method in ("post", "patch")
    ]
    # items: POST, PATCH, stock-adjustments; pedidos: POST, lines, 5 transitions
    assert len(writes) == 10
    for method, path, op in writes:
        [header] = [p for p in op["parameters"] if p["name"] == "Idempotency-Key"]
        assert header["in"] == "header"
        assert header["required"] is ((method, path) in required), (method, path)
        text = header["description"]
        for fact in ("tenant and subject", "36 h", f"{settings.idempotency_lock_ttl_s:g} s"):
            assert fact in text, (path, fact)
        responses = op["responses"]
        for code in ("400", "409", "422", "503"):
            assert PROBLEM_CONTENT_TYPE in responses[code]["content"], (path, code)
        assert "Retry-After" in responses["409"]["headers"]
        assert "Retry-After" in responses["503"]["headers"]
        success = [code for code in responses if code.startswith("2")]
        assert success, path
        for code in success:
            assert {"Idempotent-Replayed", "X-Idempotent-Replayed"} <= responses[code][
                "headers"
            ].keys()
    for path, item in schema["paths"].items():
        for method in ("get", "delete"):
            params = item.get(method, {}).get("parameters", [])
            assert all(p["name"] != "Idempotency-Key" for p in params), (method, path)
