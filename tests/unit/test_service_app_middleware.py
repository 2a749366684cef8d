"""create_service_app(middleware=...): a service's own middleware runs inside request ids and
metrics, outermost first, so what it answers by itself is traced and counted like the rest."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.testclient import TestClient
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from servicekit.core.metrics import registry
from servicekit.core.settings import ServiceSettings
from servicekit.web.app import create_service_app


class Tagging:
    """Records its name in the request state on the way in; answers /short by itself."""

    def __init__(self, app: ASGIApp, *, name: str) -> None:
        self.app = app
        self.name = name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope.setdefault("state", {}).setdefault("seen", []).append(self.name)
            if scope["path"] == "/short" and self.name == "inner":
                body = json.dumps(scope["state"]["seen"]).encode()
                await send({"type": "http.response.start", "status": 200, "headers": []})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def _client() -> TestClient:
    router = APIRouter()

    @router.get("/routed")
    async def routed(request: Request) -> list[str]:
        seen: list[str] = request.state.seen
        return seen

    app = create_service_app(
        settings=ServiceSettings(service_name="mw"),
        title="mw",
        version="0",
        routers=[router],
        middleware=[Middleware(Tagging, name="outer"), Middleware(Tagging, name="inner")],
    )
    return TestClient(app)


def _answered(path: str, status: str) -> float:
    value = registry.registry.get_sample_value(
        "http_requests_total", {"method": "GET", "route": path, "status": status}
    )
    return value or 0.0


def test_service_middleware_runs_in_the_given_order_before_routing() -> None:
    with _client() as client:
        assert client.get("/routed").json() == ["outer", "inner"]


def test_an_answer_of_service_middleware_carries_a_request_id_and_is_counted() -> None:
    with _client() as client:
        before = _answered("unmatched", "200")
        response = client.get("/short", headers={"X-Request-ID": "mw-1"})
        assert response.json() == ["outer", "inner"]
        assert response.headers["x-request-id"] == "mw-1"
        assert _answered("unmatched", "200") - before == 1
