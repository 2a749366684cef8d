"""The servicekit cache and idempotency mechanisms on a bare FastAPI app (no auth, no DB).

It prices the mechanisms alone, before orders wires them into its routes: a cache hit served
from Redis (one GET), a hit from the in-process layer (no round trip), and a keyed POST
answered as a replay. Redis comes from ORDERS_REDIS_URL (the bench stack sets it).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import Response
from redis.asyncio import Redis
from starlette.types import Scope

from servicekit.data.cache import RedisCache
from servicekit.data.redis import create_redis
from servicekit.web.idempotency import IdempotencyMiddleware

_ITEM = (
    b'{"id":"5b0e3a4e-8a51-4a43-9d0c-6f3f5f0f9b1e","sku":"SKU-1","name":"Widget",'
    b'"description":"A widget","price":{"amount":"12.50","currency":"BRL"},'
    b'"category":"tools","tags":["a","b"],"quantity":7,"status":"active","version":3}'
)


def create_app() -> FastAPI:
    redis_url = os.environ.get("ORDERS_REDIS_URL", "redis://127.0.0.1:6379/0")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis = create_redis(redis_url)
        app.state.redis = redis
        app.state.remote = RedisCache(redis, name="bench-redis", namespace="bench:cache:")
        app.state.local = RedisCache(
            redis, name="bench-local", namespace="bench:cache:", local_ttl_s=5.0
        )
        await app.state.local.start()
        yield
        await app.state.local.aclose()
        await redis.aclose()

    app = FastAPI(lifespan=lifespan)

    async def compute() -> bytes:
        return _ITEM

    @app.get("/health/live")
    async def live() -> Response:
        return Response(b'{"status":"pass"}', media_type="application/health+json")

    @app.get("/cached/redis/{item_id}")
    async def cached_redis(item_id: str, request: Request) -> Response:
        cache: RedisCache = request.app.state.remote
        body = await cache.get_or_compute(f"item:t1:{item_id}", compute, base_ttl_s=300)
        return Response(body, media_type="application/json")

    @app.get("/cached/local/{item_id}")
    async def cached_local(item_id: str, request: Request) -> Response:
        cache: RedisCache = request.app.state.local
        body = await cache.get_or_compute(f"item:t1:{item_id}", compute, base_ttl_s=300)
        return Response(body, media_type="application/json")

    @app.post("/api/v1/pedidos", status_code=201)
    async def create_pedido() -> Response:
        return Response(
            _ITEM, status_code=201, media_type="application/json", headers={"Location": "/x"}
        )

    def principal(_: Scope) -> tuple[str, str]:
        return ("t1", "bench")

    def redis_of(scope: Scope) -> Redis:
        redis: Redis = scope["app"].state.redis
        return redis

    app.add_middleware(
        IdempotencyMiddleware,
        redis=redis_of,
        scope_resolver=principal,
        required={("POST", "/api/v1/pedidos")},
    )
    return app
