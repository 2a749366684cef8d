"""`python -m bench.inprocess`: microseconds per request of orders' hot paths, no network.

Each request is one ASGI call straight into the app (the whole middleware stack, routing,
dependencies), in a loop on one event loop: steadier than wrk on a shared machine, and what a
profile of the read path is taken from. The bare Starlette baseline app runs the same loop, so
the ratio is comparable to wrk's (HTTP parsing and the socket are left out of both).

Settings: INPROC_REQUESTS (default 20000), INPROC_PROFILE=read|replay|redis|uncached|page
(a cProfile of
that path, top 25 by own time), INPROC_LOG_LEVEL (default WARNING: no access-log line),
BENCH_DATABASE_URL / BENCH_REDIS_URL as for `make bench`.
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import os
import pstats
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import ASGIApp, Message

from bench.baseline_app import create_app as create_baseline
from bench.stack import bench_stack
from orders_service.main import create_app as create_orders
from orders_service.settings import OrdersSettings

Call = Callable[[], Awaitable[int]]


def _caller(
    app: ASGIApp,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes = b"",
    *,
    query: bytes = b"",
) -> Call:
    encoded = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    if body:
        encoded.append((b"content-length", str(len(body)).encode()))

    async def call() -> int:
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query,
            "root_path": "",
            "headers": encoded,
            "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 8002),
            "state": {},
        }
        status = 0
        sent = False

        async def receive() -> Message:
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(scope, receive, send)
        return status

    return call


async def _per_request_us(call: Call, n: int, *, expect: int) -> float:
    for _ in range(200):  # warm-up: verified-claims and cache layers fill, pools open
        status = await call()
        if status != expect:
            raise RuntimeError(f"expected {expect}, got {status}")
    started = time.perf_counter()
    for _ in range(n):
        await call()
    return (time.perf_counter() - started) / n * 1e6


async def _run(env: dict[str, str], token: str, n: int, profile: str) -> dict[str, float]:
    os.environ.update(env)
    results: dict[str, float] = {}
    baseline = create_baseline()
    results["baseline: Starlette fixed bytes"] = await _per_request_us(
        _caller(baseline, "GET", "/health/live", {}), n, expect=200
    )
    auth = {"Authorization": f"Bearer {token}"}
    for label, local_ttl in (("in-process layer", 2.0), ("Redis GET", 0.0)):
        settings = OrdersSettings(
            cache_local_ttl_s=local_ttl,
            cache_namespace=f"bench:{uuid.uuid4().hex[:8]}:",
            # INFO adds the access-log line of every request (written to stdout).
            log_level=os.environ.get("INPROC_LOG_LEVEL", "WARNING"),
        )
        app = create_orders(settings)
        async with app.router.lifespan_context(app):
            item = {
                "sku": f"INPROC-{uuid.uuid4().hex[:8]}",
                "name": "Bench item",
                "description": "An item of the benchmark catalogue.",
                "price": {"amount": "19.90", "currency": "BRL"},
                "category": "kitchen",
                "tags": ["bench"],
                "quantity": 50,
            }
            created = await _create(app, auth, item)
            read = _caller(app, "GET", f"/api/v1/items/{created}", auth)
            results[f"orders cached GET /items/{{id}} ({label})"] = await _per_request_us(
                read, n, expect=200
            )
            if profile == ("read" if local_ttl else "redis"):
                await _profile(read, n)
            if local_ttl:
                pedido = json.dumps(
                    {"customer_id": "c-1", "items": [{"item_id": created, "quantity": 1}]}
                ).encode()
                keyed = {
                    **auth,
                    "Content-Type": "application/json",
                    "Idempotency-Key": uuid.uuid4().hex,
                }
                replay = _caller(app, "POST", "/api/v1/pedidos", keyed, pedido)
                if await replay() != 201:
                    raise RuntimeError("the first keyed POST /pedidos failed")
                if profile == "replay":
                    await _profile(replay, n // 4)
                results["orders keyed POST /pedidos replay"] = await _per_request_us(
                    replay, n // 4, expect=201
                )
    await _database_reads(auth, n, profile, results)
    return results


async def _database_reads(
    auth: dict[str, str], n: int, profile: str, results: dict[str, float]
) -> None:
    """Issue 13: the item read with the cache off, and a page of 20 (PostgreSQL each time)."""
    settings = OrdersSettings(
        cache_enabled=False, log_level=os.environ.get("INPROC_LOG_LEVEL", "WARNING")
    )
    app = create_orders(settings)
    async with app.router.lifespan_context(app):
        category = f"inproc-{uuid.uuid4().hex[:8]}"
        ids = [
            await _create(
                app,
                auth,
                {
                    "sku": f"INPROC-{uuid.uuid4().hex[:8]}",
                    "name": f"Bench item {k}",
                    "description": "An item of the benchmark catalogue.",
                    "price": {"amount": "19.90", "currency": "BRL"},
                    "category": category,
                    "tags": ["bench"],
                    "quantity": 50,
                },
            )
            for k in range(25)
        ]
        read = _caller(app, "GET", f"/api/v1/items/{ids[3]}", auth)
        page_query = f"limit=20&category={category}&sort=-created_at".encode()
        page = _caller(app, "GET", "/api/v1/items", auth, query=page_query)
        m = max(n // 10, 200)
        results["orders uncached GET /items/{id} (db)"] = await _per_request_us(read, m, expect=200)
        results["orders GET /items page of 20 (db)"] = await _per_request_us(page, m, expect=200)
        if profile == "uncached":
            await _profile(read, m)
        if profile == "page":
            await _profile(page, m)


async def _create(app: ASGIApp, auth: dict[str, str], item: dict[str, Any]) -> str:
    body = json.dumps(item).encode()
    created: dict[str, Any] = {}
    headers = [(k.lower().encode(), v.encode()) for k, v in auth.items()]
    headers += [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/items",
        "raw_path": b"/api/v1/items",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8002),
        "state": {},
    }

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            created.update(json.loads(message["body"]))

    await app(scope, receive, send)
    return str(created["id"])


async def _profile(call: Call, n: int) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(n):
        await call()
    profiler.disable()
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(25)


def main() -> int:
    n = int(os.environ.get("INPROC_REQUESTS", "20000"))
    profile = os.environ.get("INPROC_PROFILE", "")
    with bench_stack() as stack:
        token = stack.token()
        try:
            import uvloop  # noqa: PLC0415 - optional, as uvicorn uses it when installed

            runner: Callable[..., Any] = uvloop.run
        except ImportError:
            runner = asyncio.run
        results = runner(_run(stack.env, token, n, profile))
    base = results["baseline: Starlette fixed bytes"]
    print(f"{'path (in-process, no HTTP)':<52} {'us/req':>8} {'ratio':>6}")
    for name, us in results.items():
        print(f"{name:<52} {us:>8.1f} {base / us:>6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
