"""Load scenarios. Each names the server it hits and may prepare data (tokens, rows) first."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlencode

import httpx

from auth_service.clients.schemas import ClientCreate
from auth_service.clients.service import ClientService
from auth_service.settings import AuthSettings
from bench.stack import BenchStack
from servicekit.data.db import create_engine, create_sessionmaker


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
    # Also measure latency at half of the measured peak rate (issue 7: p99 < 10 ms there).
    half_load: bool = False
    # One RSA signature per request: shown as a fraction of raw signing on the same core.
    signs: bool = False


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


BENCH_ITEMS = 100


def _orders_items(stack: BenchStack) -> list[str]:
    """Ids of the bench tenant's items, created over HTTP the first time (newest first)."""
    headers = {"Authorization": f"Bearer {stack.token()}"}
    with httpx.Client(base_url=stack.start("orders"), headers=headers, timeout=30) as api:
        existing = api.get("/api/v1/items", params={"limit": 100}).json()["items"]
        for n in range(len(existing), BENCH_ITEMS):
            body = {
                "sku": f"BENCH-{n:04d}",
                "name": f"Bench item {n}",
                "description": "An item of the benchmark catalogue, with a realistic description.",
                "price": {"amount": f"{10 + n % 90}.90", "currency": "BRL"},
                "category": ("kitchen", "garden", "tools")[n % 3],
                "tags": ["bench", f"group-{n % 5}"],
                "quantity": 50,
            }
            api.post("/api/v1/items", json=body).raise_for_status()
        page = api.get("/api/v1/items", params={"limit": 100}).json()["items"]
    return [item["id"] for item in page]


def _orders_item_by_id(stack: BenchStack) -> Request:
    """GET one item on "orders-uncached" (cache switched off): PostgreSQL on every request."""
    ids = _orders_items(stack)
    item_id = ids[len(ids) // 2]
    return Request(f"/api/v1/items/{item_id}", headers={"Authorization": f"Bearer {stack.token()}"})


def _orders_cached_item(server: str) -> Callable[[BenchStack], Request]:
    """GET one item on an orders process whose cache is warm for it (every request a hit).

    "orders" (the default settings) answers hits from the in-process layer;
    "orders-redis-only" (bench.stack.APP_ENV) makes one Redis GET per hit.
    """

    def prepare(stack: BenchStack) -> Request:
        ids = _orders_items(stack)
        base = stack.start(server)
        request = Request(
            f"/api/v1/items/{ids[len(ids) // 3]}",
            headers={"Authorization": f"Bearer {stack.token()}"},
        )
        httpx.get(base + request.path, headers=request.headers, timeout=5).raise_for_status()
        return request

    return prepare


def _orders_pedido_replay(stack: BenchStack) -> Request:
    """POST /pedidos once with a fresh key; every measured request replays its answer."""
    ids = _orders_items(stack)
    body = json.dumps(
        {"customer_id": "bench", "items": [{"item_id": ids[0], "quantity": 1}]}
    ).encode()
    request = Request(
        "/api/v1/pedidos",
        method="POST",
        headers={
            "Authorization": f"Bearer {stack.token()}",
            "Content-Type": "application/json",
            "Idempotency-Key": uuid.uuid4().hex,
        },
        body=body,
    )
    first = httpx.post(
        stack.start("orders") + request.path, content=body, headers=request.headers, timeout=5
    )
    if first.status_code != 201:
        raise RuntimeError(f"keyed POST /pedidos answered {first.status_code}: {first.text}")
    return request


def _orders_item_page(stack: BenchStack) -> Request:
    _orders_items(stack)
    return Request(
        "/api/v1/items?limit=20&category=kitchen&sort=-created_at",
        headers={"Authorization": f"Bearer {stack.token()}"},
    )


async def _create_client(database_url: str) -> tuple[str, str]:
    settings = AuthSettings(database_url=database_url)
    engine = create_engine(settings, application_name="bench")
    try:
        async with create_sessionmaker(engine).begin() as session:
            client, secret = await ClientService(session, tenant_id="bench").create(
                ClientCreate(name="bench", roles=["editor"]), now=datetime.now(UTC)
            )
    finally:
        await engine.dispose()
    return client.client_id, secret


def _client_credentials(stack: BenchStack) -> Request:
    """POST /oauth/token for a service client created straight in auth's database."""
    client_id, secret = asyncio.run(_create_client(stack.env["AUTH_DATABASE_URL"]))
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    return Request(
        "/oauth/token",
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=urlencode(form).encode(),
    )


SCENARIOS: list[Scenario] = [
    Scenario("baseline: Starlette fixed bytes", "baseline", _fixed("/health/live")),
    Scenario("auth GET /health/live", "auth", _fixed("/health/live")),
    Scenario("orders GET /health/live", "orders", _fixed("/health/live")),
    # servicekit mechanisms alone on FastAPI (no auth, no database): what orders will pay.
    Scenario("cachekit cache hit via Redis GET", "cachekit", _warmed("/cached/redis/1")),
    Scenario("cachekit cache hit in-process layer", "cachekit", _warmed("/cached/local/1")),
    Scenario("cachekit keyed POST replay", "cachekit", _stored_pedido),
    # Authenticated (RS256 token, verified claims cached) and read from PostgreSQL every time.
    # Issue 13: both >= 0.07 of the baseline, and p99 < 25 ms at half of their peak rate.
    Scenario(
        "orders GET /api/v1/items/{id} (auth, db)",
        "orders-uncached",
        _orders_item_by_id,
        half_load=True,
    ),
    Scenario(
        "orders GET /api/v1/items page of 20 (auth, db)",
        "orders",
        _orders_item_page,
        half_load=True,
    ),
    # Issue 7: the cached authenticated read (aim >= 0.30 of the baseline) and a replay.
    Scenario(
        "orders GET /api/v1/items/{id} cached (auth)",
        "orders",
        _orders_cached_item("orders"),
        half_load=True,
    ),
    Scenario(
        "orders GET /api/v1/items/{id} cached, Redis only (auth)",
        "orders-redis-only",
        _orders_cached_item("orders-redis-only"),
    ),
    Scenario("orders POST /api/v1/pedidos keyed replay (auth)", "orders", _orders_pedido_replay),
    Scenario("auth GET /.well-known/jwks.json", "auth", _fixed("/.well-known/jwks.json")),
    Scenario("auth POST /oauth/token client_credentials", "auth", _client_credentials, signs=True),
]
