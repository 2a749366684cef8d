"""Load scenarios. Each names the server it hits and may prepare data (tokens, rows) first."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from bench.stack import BenchStack


@dataclass(frozen=True)
class Request:
    path: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None


@dataclass(frozen=True)
class Scenario:
    name: str
    server: str  # "baseline" | "auth" | "orders"
    prepare: Callable[[BenchStack], Request]


def _fixed(path: str) -> Callable[[BenchStack], Request]:
    return lambda _stack: Request(path)


def _warmed(path: str) -> Callable[[BenchStack], Request]:
    """GET `path` once so the measured requests are all cache hits."""

    def prepare(stack: BenchStack) -> Request:
        httpx.get(stack.urls["cachekit"] + path, timeout=5).raise_for_status()
        return Request(path)

    return prepare


_PEDIDO = b'{"customer_id":"c-1","items":[{"item_id":"i-1","quantity":1}]}'


def _stored_pedido(stack: BenchStack) -> Request:
    """POST once with a fresh key; every measured request is then a replay of it."""
    request = Request(
        "/api/v1/pedidos",
        method="POST",
        headers={"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex},
        body=_PEDIDO,
    )
    response = httpx.post(
        stack.urls["cachekit"] + request.path,
        content=request.body,
        headers=request.headers,
        timeout=5,
    )
    if response.status_code != 201:
        raise RuntimeError(f"keyed POST answered {response.status_code}")
    return request


SCENARIOS: list[Scenario] = [
    Scenario("baseline: Starlette fixed bytes", "baseline", _fixed("/health/live")),
    Scenario("auth GET /health/live", "auth", _fixed("/health/live")),
    Scenario("orders GET /health/live", "orders", _fixed("/health/live")),
    # servicekit mechanisms alone on FastAPI (no auth, no database): what orders will pay.
    Scenario("cachekit cache hit via Redis GET", "cachekit", _warmed("/cached/redis/1")),
    Scenario("cachekit cache hit in-process layer", "cachekit", _warmed("/cached/local/1")),
    Scenario("cachekit keyed POST replay", "cachekit", _stored_pedido),
]
