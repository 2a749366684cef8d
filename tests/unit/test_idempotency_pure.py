"""The idempotency middleware's pure parts: key parsing, fingerprints, the bearer resolver."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from redis.asyncio import Redis

from servicekit.web.idempotency import (
    IdempotencyMiddleware,
    InvalidKeyError,
    app_route_template,
    canonical_body,
    parse_idempotency_key,
    request_fingerprint,
)


def test_idempotency_key_forms_from_the_draft() -> None:
    assert parse_idempotency_key(b'"8e03978e-40d5-43e8-bc93-6894a57f9324"') == (
        "8e03978e-40d5-43e8-bc93-6894a57f9324"
    )
    assert parse_idempotency_key(b"01J9Z3K0TQ8W6X4M2N7P5R1S3V") == "01J9Z3K0TQ8W6X4M2N7P5R1S3V"
    assert parse_idempotency_key(b' "padded" ') == "padded"
    for bad in (b'"', b'""', b'"a";p=1', b"a,b", b"x" * 256):
        with pytest.raises(InvalidKeyError):
            parse_idempotency_key(bad)


def test_idempotency_canonical_json_ignores_order_and_spacing_but_not_values() -> None:
    a = canonical_body(b'{"b": [1, 2], "a": {"y": 1, "x": "\\u00e9"}}', "application/json")
    b = canonical_body(
        '{"a":{"x":"é","y":1},"b":[1,2]}'.encode(), "application/json; charset=utf-8"
    )
    c = canonical_body(b'{"a":{"x":"e","y":1},"b":[1,2]}', "application/json")
    assert a == b
    assert a != c
    # Not JSON (or not declared JSON): the bytes themselves.
    assert canonical_body(b'{"a":1}', "text/plain") != canonical_body(b'{ "a": 1 }', "text/plain")
    assert canonical_body(b"{not json", "application/json") == b"raw\x00{not json"


def test_idempotency_fingerprint_covers_target_query_and_preconditions() -> None:
    base: dict[str, Any] = {
        "path": "/api/v1/items/1",
        "query": b"",
        "body": b"{}",
        "content_type": "application/json",
    }
    fingerprints = {
        request_fingerprint(**base),
        request_fingerprint(**{**base, "path": "/api/v1/items/2"}),
        request_fingerprint(**{**base, "query": b"x=1"}),
        request_fingerprint(**base, preconditions=[b'"3"']),
        request_fingerprint(**{**base, "body": b'{"a":1}'}),
    }
    assert len(fingerprints) == 5


def test_idempotency_route_template_comes_from_the_app_routes() -> None:
    app = FastAPI()

    @app.post("/api/v1/pedidos/{pedido_id}/confirm")
    async def confirm(pedido_id: str) -> None:
        return None

    def scope(method: str, path: str) -> dict[str, Any]:
        return {"type": "http", "method": method, "path": path, "app": app, "root_path": ""}

    assert app_route_template(scope("POST", "/api/v1/pedidos/42/confirm")) == (
        "/api/v1/pedidos/{pedido_id}/confirm"
    )
    assert app_route_template(scope("GET", "/api/v1/pedidos/42/confirm")) is None  # 405
    assert app_route_template(scope("POST", "/api/v1/other")) is None


def test_idempotency_route_template_of_a_route_in_an_included_router() -> None:
    """Routers included with prefixes (FastAPI keeps them as branches) resolve to the full
    template, as routing sees it."""
    router = APIRouter(prefix="/pedidos")

    @router.post("/{pedido_id}/confirm")
    async def confirm(pedido_id: str) -> None:
        return None

    @router.patch("")
    async def patch_all() -> None:
        return None

    app = FastAPI()
    app.include_router(router, prefix="/api/v1")

    def scope(method: str, path: str, root_path: str = "") -> dict[str, Any]:
        return {"type": "http", "method": method, "path": path, "app": app, "root_path": root_path}

    assert app_route_template(scope("POST", "/api/v1/pedidos/7/confirm")) == (
        "/api/v1/pedidos/{pedido_id}/confirm"
    )
    assert app_route_template(scope("PATCH", "/api/v1/pedidos")) == "/api/v1/pedidos"
    assert app_route_template(scope("POST", "/api/v1/pedidos")) is None  # 405
    assert app_route_template(scope("POST", "/pedidos/7/confirm")) is None
    assert app_route_template(scope("POST", "/svc/api/v1/pedidos/7/confirm", "/svc")) == (
        "/api/v1/pedidos/{pedido_id}/confirm"
    )


def test_idempotency_ttl_setting_is_held_to_24_to_48_hours() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        return None

    def resolver(_: Any) -> None:
        return None

    redis = Redis()  # never contacted: the constructor only checks its settings

    for ttl in (3600, 49 * 3600):
        with pytest.raises(ValueError, match="ttl_s"):
            IdempotencyMiddleware(app, redis=redis, scope_resolver=resolver, ttl_s=ttl)
    IdempotencyMiddleware(app, redis=redis, scope_resolver=resolver, ttl_s=36 * 3600)
