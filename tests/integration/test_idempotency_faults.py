"""Redis stopped mid-test under an app with cached reads and keyed writes (issue 7, Faults)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
from redis.asyncio import Redis

from servicekit.data.cache import RedisCache
from servicekit.data.embedded import EmbeddedRedis
from servicekit.data.redis import create_redis
from tests.support.ids import new_tenant
from tests.support.keyed_app import (
    Controls,
    auth,
    build_keyed_app,
    client_for,
    count_rows,
)

PEDIDO = {"customer_id": "c-1", "items": [{"item_id": "i-1", "quantity": 1}]}


async def test_idempotency_and_cache_when_redis_stops_and_comes_back(
    tmp_path: Path, pool: asyncpg.Pool
) -> None:
    """Redis down: cached reads still 200 from the database; keyed writes 503 and nothing is
    written. Redis back: both work again, and a key from before the outage still replays."""
    server = await asyncio.to_thread(EmbeddedRedis(tmp_path / "redis", persist=True).start)
    redis: Redis = create_redis(server.url())
    cache = RedisCache(redis, name="faults-app", op_timeout_s=1.0, breaker_cooldown_s=0.05)
    controls = Controls()
    tenant = new_tenant()
    app = build_keyed_app(pool=pool, redis=redis, controls=controls, cache=cache, op_timeout_s=1.0)
    try:
        async with client_for(app) as client:
            created = await client.post(
                "/api/v1/pedidos", json=PEDIDO, headers=auth(tenant, key="before")
            )
            assert created.status_code == 201
            row_id = created.json()["id"]
            read = await client.get(f"/api/v1/writes/{row_id}", headers=auth(tenant))
            assert read.status_code == 200
            assert controls.reads == 1

            await asyncio.to_thread(server.stop)

            reads = [
                await client.get(f"/api/v1/writes/{row_id}", headers=auth(tenant)) for _ in range(5)
            ]
            assert [r.status_code for r in reads] == [200] * 5
            assert all(r.json() == read.json() for r in reads)
            assert controls.reads == 6  # served from the database
            keyed = await client.post(
                "/api/v1/pedidos", json=PEDIDO, headers=auth(tenant, key="during")
            )
            assert keyed.status_code == 503
            assert keyed.headers["content-type"] == "application/problem+json"
            assert keyed.json()["type"].endswith("/idempotency-unavailable")
            assert "retry-after" in keyed.headers
            assert controls.runs == 1
            assert await count_rows(pool, tenant=tenant) == 1
            # A write without a key does not need Redis and still works.
            unkeyed = await client.post("/api/v1/items", json={"a": 1}, headers=auth(tenant))
            assert unkeyed.status_code == 201

            await asyncio.to_thread(server.start)
            await asyncio.sleep(0.06)  # the cache breaker's cooldown

            reads_before = controls.reads
            for _ in range(3):
                again = await client.get(f"/api/v1/writes/{row_id}", headers=auth(tenant))
                assert again.status_code == 200
            assert controls.reads == reads_before  # the value cached before is served again
            retried = await client.post(
                "/api/v1/pedidos", json=PEDIDO, headers=auth(tenant, key="during")
            )
            assert retried.status_code == 201
            assert "idempotent-replayed" not in retried.headers
            replay = await client.post(
                "/api/v1/pedidos", json=PEDIDO, headers=auth(tenant, key="before")
            )
            assert replay.headers["idempotent-replayed"] == "true"
            assert replay.content == created.content
            assert await count_rows(pool, tenant=tenant) == 3  # before, unkeyed, retried
    finally:
        await redis.aclose()
        await asyncio.to_thread(server.stop)
