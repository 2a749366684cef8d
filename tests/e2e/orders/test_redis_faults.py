"""Redis stopped and restarted under a running orders process (issue 7, Faults).

The test starts a Redis of its own (keeping its data across the restart, as a real one does)
and an orders process on it. While Redis is down, item reads answer 200 from PostgreSQL and
keyed writes answer 503 without writing; when it is back, both work again without
restarting orders, and nothing cached before the outage hides a write made during it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis

from servicekit.data.embedded import EmbeddedRedis
from tests.e2e.orders.conftest import item_body, orders_env
from tests.support.ids import new_tenant
from tests.support.metrics import scrape, value
from tests.support.processes import ServiceProcess
from tests.support.tokens import TestIssuer
from tests.support.waiting import poll

PEDIDOS = "/api/v1/pedidos"


@pytest.fixture
def orders_on_own_redis(
    own_redis: EmbeddedRedis, orders_database_url: str, jwks_url: str, tmp_path: Path
) -> Iterator[str]:
    env = orders_env(
        database_url=orders_database_url,
        redis_url=own_redis.url(),
        jwks_url=jwks_url,
        redis_prefix="faults:",
    )
    # A short breaker, so recovery shows within the test; deadlines stay the defaults.
    env["ORDERS_CACHE_BREAKER_COOLDOWN_S"] = "0.2"
    proc = ServiceProcess("orders_service.main:create_app", env, tmp_path / "orders.log").start()
    try:
        yield proc.base_url
    finally:
        proc.stop()


def _until(check: Callable[[], httpx.Response], *, within_s: float) -> httpx.Response:
    """Call `check()` until it answers a 2xx (a client honouring Retry-After does this)."""

    def only_503(response: httpx.Response) -> None:
        assert response.status_code == 503, response.text

    return poll(check, lambda r: r.is_success, within_s=within_s, check=only_503)


def test_redis_outage_reads_from_postgres_refuses_keyed_writes_and_recovers(
    own_redis: EmbeddedRedis, orders_on_own_redis: str, issuer: TestIssuer
) -> None:
    tenant = new_tenant()
    token = issuer.issue(tenant_id=tenant, roles=["admin"])
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=orders_on_own_redis, headers=headers, timeout=30) as api:
        item = api.post("/api/v1/items", json=item_body(name="before", quantity=10)).json()
        url = f"/api/v1/items/{item['id']}"
        assert api.get(url).json()["name"] == "before"  # cached in Redis and in-process
        body = {"customer_id": "c1", "items": [{"item_id": item["id"], "quantity": 1}]}
        seeded = api.post(PEDIDOS, json=body, headers={"Idempotency-Key": "before-outage"})
        assert seeded.status_code == 201

        own_redis.stop()

        started = time.monotonic()
        reads = [api.get(url) for _ in range(10)]
        assert [r.status_code for r in reads] == [200] * 10
        assert time.monotonic() - started < 5  # one deadline per breaker period, not per read
        # A write during the outage: its invalidation cannot reach Redis, yet reads show it.
        patched = api.patch(url, json={"name": "during"})
        assert patched.status_code == 200
        assert api.get(url).json()["name"] == "during"
        other = api.post("/api/v1/items", json=item_body(name="new"))  # no key: no Redis needed
        assert other.status_code == 201
        assert api.get(other.headers["location"]).json()["name"] == "new"

        refused = api.post(PEDIDOS, json=body, headers={"Idempotency-Key": "during-outage"})
        assert refused.status_code == 503
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"].endswith("/idempotency-unavailable")
        assert int(refused.headers["retry-after"]) >= 1
        confirm = f"{PEDIDOS}/{seeded.json()['id']}/confirm"
        assert api.post(confirm, headers={"Idempotency-Key": "c-1"}).status_code == 503
        assert len(api.get(PEDIDOS).json()["items"]) == 1  # nothing was written
        assert api.get(f"{PEDIDOS}/{seeded.json()['id']}").json()["status"] == "pending"
        assert api.get(url).json()["quantity"] == 10

        own_redis.start()  # with the data it saved, including the entry from before the PATCH

        # Reads until one is a cache hit again: none may show the entry cached before the
        # outage (the invalidation Redis missed is replayed before its next read).
        before = scrape(orders_on_own_redis)
        deadline = time.monotonic() + 10
        while True:
            read = api.get(url)
            assert read.status_code == 200
            assert read.json()["name"] == "during"
            after = scrape(orders_on_own_redis)
            hits = sum(
                value(after, "servicekit_cache_hits_total", cache="items", layer=layer)
                - value(before, "servicekit_cache_hits_total", cache="items", layer=layer)
                for layer in ("local", "redis")
            )
            if hits >= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert hits >= 2, "item reads never came from the cache again"

        retried = _until(
            lambda: api.post(PEDIDOS, json=body, headers={"Idempotency-Key": "during-outage"}),
            within_s=10,
        )
        assert retried.status_code == 201, retried.text
        assert "idempotent-replayed" not in retried.headers
        replay = api.post(PEDIDOS, json=body, headers={"Idempotency-Key": "before-outage"})
        assert replay.headers["idempotent-replayed"] == "true"
        assert replay.content == seeded.content
        confirmed = _until(
            lambda: api.post(confirm, headers={"Idempotency-Key": "c-1"}), within_s=10
        )
        assert confirmed.json()["status"] == "confirmed"
        assert len(api.get(PEDIDOS).json()["items"]) == 2
        assert api.get(url).json()["quantity"] == 9

    stored = redis.Redis.from_url(own_redis.url())
    try:
        keys = [k for k in stored.scan_iter(match="faults:cache:val:*") if item["id"].encode() in k]
        assert len(keys) == 1
        entry = stored.get(keys[0])
        assert isinstance(entry, bytes)
        assert b'"name":"during"' in entry
        assert b'"quantity":9' in entry
    finally:
        stored.close()


def test_a_hanging_redis_costs_reads_a_deadline_at_most_and_refuses_keyed_writes(
    own_redis: EmbeddedRedis, orders_on_own_redis: str, issuer: TestIssuer
) -> None:
    """Redis accepts connections but answers nothing (CLIENT PAUSE): item reads still 200
    from PostgreSQL within the cache's deadline, keyed writes 503 without writing."""
    token = issuer.issue(tenant_id=new_tenant(), roles=["admin"])
    with httpx.Client(
        base_url=orders_on_own_redis, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as api:
        created = api.post("/api/v1/items", json=item_body(quantity=3))
        url = created.headers["location"]
        body = {"customer_id": "c1", "items": [{"item_id": created.json()["id"], "quantity": 1}]}
        pauser = redis.Redis.from_url(own_redis.url())
        try:
            pauser.client_pause(4000, all=True)
            started = time.monotonic()
            reads = [api.get(url) for _ in range(5)]
            took = time.monotonic() - started
            keyed = api.post(PEDIDOS, json=body, headers={"Idempotency-Key": "hang-1"})
        finally:
            pauser.client_unpause()
            pauser.close()
        assert [r.status_code for r in reads] == [200] * 5
        assert all(r.json()["quantity"] == 3 for r in reads)
        assert took < 2.5  # 0.25 s deadlines and the breaker, not the 4 s pause
        assert keyed.status_code == 503
        assert keyed.json()["type"].endswith("/idempotency-unavailable")
        assert api.get(PEDIDOS).json()["items"] == []
        retried = _until(
            lambda: api.post(PEDIDOS, json=body, headers={"Idempotency-Key": "hang-1"}),
            within_s=10,
        )
        assert retried.status_code == 201
        assert len(api.get(PEDIDOS).json()["items"]) == 1
