"""IdempotencyMiddleware on a FastAPI app whose handlers write to a real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from servicekit.core.metrics import registry
from servicekit.web.idempotency import request_fingerprint, storage_key
from tests.support.keyed_app import (
    Controls,
    auth,
    build_keyed_app,
    client_for,
    count_rows,
)
from tests.support.redis_keys import delete_prefix

PEDIDO = {"customer_id": "c-1", "items": [{"item_id": "i-1", "quantity": 2}]}


@pytest.fixture(autouse=True)
async def _drop_test_keys(redis_client: Redis, redis_prefix: str) -> AsyncIterator[None]:
    yield
    await delete_prefix(redis_client, redis_prefix)


@pytest.fixture
def controls() -> Controls:
    return Controls()


@pytest.fixture
async def client(
    pool: asyncpg.Pool, redis_client: Redis, redis_prefix: str, controls: Controls
) -> AsyncIterator[httpx.AsyncClient]:
    app = build_keyed_app(
        pool=pool, redis=redis_client, controls=controls, namespace=redis_prefix + "idem:"
    )
    async with client_for(app) as http:
        yield http


def _replays() -> float:
    return registry.registry.get_sample_value("servicekit_idempotency_replays_total") or 0.0


async def test_idempotency_first_request_runs_and_a_retry_replays_without_running(
    client: httpx.AsyncClient, pool: asyncpg.Pool, controls: Controls, tenant: str
) -> None:
    replays_before = _replays()
    first = await client.post("/api/v1/pedidos", json=PEDIDO, headers=auth(tenant, key="k-1"))
    again = await client.post("/api/v1/pedidos", json=PEDIDO, headers=auth(tenant, key="k-1"))

    assert first.status_code == 201
    assert "idempotent-replayed" not in first.headers
    assert first.headers["x-other"] == "x"  # the first answer is the app's, untouched
    assert again.status_code == 201
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["etag"] == '"1"'
    assert again.headers["content-type"] == "application/json"
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["x-idempotent-replayed"] == "true"
    assert "x-other" not in again.headers  # only the listed headers are stored
    assert controls.runs == 1
    assert await count_rows(pool, tenant=tenant) == 1
    assert _replays() - replays_before == 1


async def test_idempotency_quoted_and_bare_forms_name_the_same_key(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: str
) -> None:
    first = await client.post("/api/v1/pedidos", json=PEDIDO, headers=auth(tenant, key='"abc"'))
    again = await client.post("/api/v1/pedidos", json=PEDIDO, headers=auth(tenant, key="abc"))
    assert first.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert await count_rows(pool, tenant=tenant) == 1


async def test_idempotency_key_missing_on_a_required_route_is_400_and_nothing_runs(
    client: httpx.AsyncClient, pool: asyncpg.Pool, controls: Controls, tenant: str
) -> None:
    pedido = await client.post("/api/v1/pedidos", json=PEDIDO, headers=auth(tenant))
    confirm = await client.post(f"/api/v1/pedidos/{uuid.uuid4()}/confirm", headers=auth(tenant))

    for response in (pedido, confirm):
        assert response.status_code == 400
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"].endswith("/idempotency-key-missing")
    assert controls.runs == 0
    assert await count_rows(pool, tenant=tenant) == 0


async def test_idempotency_key_is_optional_on_other_writes(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: str
) -> None:
    item = uuid.uuid4()
    one = await client.patch(f"/api/v1/items/{item}", json={"name": "a"}, headers=auth(tenant))
    two = await client.patch(f"/api/v1/items/{item}", json={"name": "a"}, headers=auth(tenant))
    assert one.status_code == two.status_code == 200
    assert "idempotent-replayed" not in two.headers
    assert await count_rows(pool, tenant=tenant) == 2  # no key: no idempotency

    keyed = [
        await client.patch(
            f"/api/v1/items/{item}", json={"name": "b"}, headers=auth(tenant, key="p")
        )
        for _ in range(3)
    ]
    assert [r.status_code for r in keyed] == [200, 200, 200]
    assert keyed[2].json() == keyed[0].json()
    assert await count_rows(pool, tenant=tenant) == 3


@pytest.mark.parametrize(
    "value",
    ["", '""', "a b", "ключ", "x" * 256, '"unterminated', "semi;colon", 'a"b', "tab\there"],
)
async def test_idempotency_invalid_key_is_400_and_nothing_runs(
    client: httpx.AsyncClient, pool: asyncpg.Pool, controls: Controls, tenant: str, value: str
) -> None:
    headers = auth(tenant)
    raw = [(k.encode(), v.encode()) for k, v in headers.items()]
    raw.append((b"idempotency-key", value.encode()))
    response = await client.post("/api/v1/pedidos", json=PEDIDO, headers=raw)
    assert response.status_code == 400
    assert response.json()["type"].endswith("/idempotency-key-invalid")
    assert controls.runs == 0
    assert await count_rows(pool, tenant=tenant) == 0


async def test_idempotency_two_key_headers_are_400(
    client: httpx.AsyncClient, controls: Controls, tenant: str
) -> None:
    raw = [(b"authorization", f"Bearer {tenant}.alice".encode())]
    raw += [(b"idempotency-key", b"one"), (b"idempotency-key", b"two")]
    response = await client.post("/api/v1/pedidos", json=PEDIDO, headers=raw)
    assert response.status_code == 400
    assert controls.runs == 0


async def test_idempotency_same_key_other_body_is_422_and_changes_nothing(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: str
) -> None:
    first = await client.post("/api/v1/pedidos", json=PEDIDO, headers=auth(tenant, key="k"))
    other = {**PEDIDO, "customer_id": "c-2"}
    conflict = await client.post("/api/v1/pedidos", json=other, headers=auth(tenant, key="k"))
    again = await client.post("/api/v1/pedidos", json=PEDIDO, headers=auth(tenant, key="k"))

    assert conflict.status_code == 422
    assert conflict.json()["type"].endswith("/idempotency-key-reused")
    assert again.status_code == 201
    assert again.content == first.content
    assert await count_rows(pool, tenant=tenant) == 1


async def test_idempotency_fingerprint_ignores_json_key_order_and_whitespace(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: str
) -> None:
    compact = b'{"customer_id":"c-1","items":[{"item_id":"i-1","quantity":2}]}'
    spaced = b'{ "items": [ {"quantity": 2, "item_id": "i-1"} ],\n "customer_id": "c-1" }'
    headers = {**auth(tenant, key="k"), "Content-Type": "application/json"}
    first = await client.post("/api/v1/pedidos", content=compact, headers=headers)
    again = await client.post("/api/v1/pedidos", content=spaced, headers=headers)
    assert first.status_code == 201
    assert again.headers.get("idempotent-replayed") == "true"
    assert await count_rows(pool, tenant=tenant) == 1


async def test_idempotency_same_key_on_another_target_is_422(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: str
) -> None:
    """The route template is shared; the fingerprint tells /pedidos/A from /pedidos/B."""
    a, b = uuid.uuid4(), uuid.uuid4()
    first = await client.post(f"/api/v1/pedidos/{a}/confirm", headers=auth(tenant, key="c"))
    second = await client.post(f"/api/v1/pedidos/{b}/confirm", headers=auth(tenant, key="c"))
    assert first.status_code == 200
    assert second.status_code == 422
    assert await count_rows(pool, tenant=tenant) == 1


async def test_idempotency_precondition_is_part_of_the_fingerprint(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: str
) -> None:
    """A PATCH retried with the same If-Match replays; with another If-Match it is a
    different request, so the key reused on it is 422."""
    item = f"/api/v1/items/{uuid.uuid4()}"
    headers = {**auth(tenant, key="m"), "If-Match": '"3"'}
    first = await client.patch(item, json={"name": "n"}, headers=headers)
    same = await client.patch(item, json={"name": "n"}, headers=headers)
    other = await client.patch(item, json={"name": "n"}, headers={**headers, "If-Match": '"4"'})
    assert first.status_code == 200
    assert same.headers["idempotent-replayed"] == "true"
    assert other.status_code == 422
    assert await count_rows(pool, tenant=tenant) == 1


async def test_idempotency_keyed_body_over_the_limit_is_413_and_nothing_runs(
    pool: asyncpg.Pool, redis_client: Redis, redis_prefix: str, controls: Controls, tenant: str
) -> None:
    app = build_keyed_app(
        pool=pool,
        redis=redis_client,
        controls=controls,
        namespace=redis_prefix + "idem:",
        max_body_bytes=64,
    )
    async with client_for(app) as client:
        big = await client.post("/api/v1/items", content=b"x" * 65, headers=auth(tenant, key="b"))
        fits = await client.post("/api/v1/items", content=b"x" * 64, headers=auth(tenant, key="b"))
    assert big.status_code == 413
    assert big.headers["content-type"] == "application/problem+json"
    assert fits.status_code == 201
    assert controls.runs == 1


async def test_idempotency_request_in_progress_is_409_with_retry_after(
    client: httpx.AsyncClient, pool: asyncpg.Pool, controls: Controls, tenant: str
) -> None:
    controls.hold = asyncio.Event()
    first = asyncio.create_task(
        client.post("/api/v1/pedidos", json=PEDIDO, headers=auth(tenant, key="slow"))
    )
    await controls.entered.wait()

    busy = await client.post("/api/v1/pedidos", json=PEDIDO, headers=auth(tenant, key="slow"))
    assert busy.status_code == 409
    assert busy.json()["type"].endswith("/idempotency-key-in-progress")
    assert int(busy.headers["retry-after"]) >= 1

    controls.hold.set()
    done = await first
    after = await client.post("/api/v1/pedidos", json=PEDIDO, headers=auth(tenant, key="slow"))
    assert done.status_code == 201
    assert after.content == done.content
    assert controls.runs == 1
    assert await count_rows(pool, tenant=tenant) == 1


async def test_idempotency_50_parallel_identical_posts_create_exactly_one_row(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: str
) -> None:
    responses = await asyncio.gather(
        *(
            client.post("/api/v1/pedidos", json=PEDIDO, headers=auth(tenant, key="burst"))
            for _ in range(50)
        )
    )
    statuses = [r.status_code for r in responses]
    created = [r for r in responses if r.status_code == 201]
    assert set(statuses) <= {201, 409}
    assert all(r.content == created[0].content for r in created)
    assert sum(1 for r in created if "idempotent-replayed" not in r.headers) == 1
    assert await count_rows(pool, tenant=tenant) == 1


@pytest.mark.parametrize("status", [500, 503, 401, 403, 422, 429])
async def test_idempotency_failed_or_rejected_responses_are_not_stored(
    client: httpx.AsyncClient, controls: Controls, tenant: str, status: int
) -> None:
    body = {**PEDIDO, "fail_with": status}
    first = await client.post("/api/v1/pedidos", json=body, headers=auth(tenant, key="f"))
    retry = await client.post("/api/v1/pedidos", json=body, headers=auth(tenant, key="f"))
    assert first.status_code == retry.status_code == status
    assert "idempotent-replayed" not in retry.headers
    assert controls.runs == 2  # the retry ran again


async def test_idempotency_validation_failure_is_not_stored_and_the_key_stays_usable(
    client: httpx.AsyncClient, pool: asyncpg.Pool, controls: Controls, tenant: str
) -> None:
    bad = {"customer_id": "c-1", "items": [], "unknown": 1}
    rejected = await client.post("/api/v1/pedidos", json=bad, headers=auth(tenant, key="v"))
    assert rejected.status_code == 422
    assert rejected.json()["type"].endswith("/validation")
    # The same key with the corrected body is a first request, not a fingerprint conflict.
    fixed = await client.post("/api/v1/pedidos", json=PEDIDO, headers=auth(tenant, key="v"))
    assert fixed.status_code == 201
    assert controls.runs == 1
    assert await count_rows(pool, tenant=tenant) == 1


async def test_idempotency_handler_crash_releases_the_key(
    client: httpx.AsyncClient, pool: asyncpg.Pool, controls: Controls, tenant: str
) -> None:
    controls.crash = True
    crashed = await client.post("/api/v1/pedidos", json=PEDIDO, headers=auth(tenant, key="x"))
    assert crashed.status_code == 500
    controls.crash = False
    retried = await client.post("/api/v1/pedidos", json=PEDIDO, headers=auth(tenant, key="x"))
    assert retried.status_code == 201
    assert "idempotent-replayed" not in retried.headers
    assert await count_rows(pool, tenant=tenant) == 1


async def test_idempotency_reservation_of_a_dead_process_expires_after_the_lock_ttl(
    pool: asyncpg.Pool, redis_client: Redis, redis_prefix: str, controls: Controls, tenant: str
) -> None:
    """A process that reserved the key and died never stores or releases it: the key is
    409 until the reservation's TTL runs out, then usable again (and runs once)."""
    namespace = redis_prefix + "idem:"
    app = build_keyed_app(pool=pool, redis=redis_client, controls=controls, namespace=namespace)
    record = storage_key(
        namespace,
        tenant=tenant,
        subject="alice",
        method="POST",
        template="/api/v1/pedidos",
        key="d",
    )
    fingerprint = request_fingerprint(
        path="/api/v1/pedidos",
        query=b"",
        body=json.dumps(PEDIDO).encode(),
        content_type="application/json",
    )
    # What the reserve script leaves behind for a process that then died.
    await redis_client.hset(record, mapping={"fp": fingerprint, "state": "pending", "token": "t"})
    lock_ttl_ms = 1000
    await redis_client.pexpire(record, lock_ttl_ms)

    async with client_for(app) as client:
        blocked = await client.post("/api/v1/pedidos", json=PEDIDO, headers=auth(tenant, key="d"))
        assert blocked.status_code == 409
        assert controls.runs == 0
        # Redis expires the reservation on its own clock: wait for that, not for a guess.
        deadline = time.monotonic() + 10 * lock_ttl_ms / 1000
        while await redis_client.exists(record):
            assert time.monotonic() < deadline, "the reservation never expired"
            await asyncio.sleep(lock_ttl_ms / 1000 / 20)
        freed = await client.post("/api/v1/pedidos", json=PEDIDO, headers=auth(tenant, key="d"))
        assert freed.status_code == 201
        assert "idempotent-replayed" not in freed.headers
        # The retry reserved, ran and stored its response for 24 h.
        assert await redis_client.pttl(record) > 23 * 3600 * 1000
    assert await count_rows(pool, tenant=tenant) == 1


async def test_idempotency_keys_never_replay_across_tenants_or_subjects(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: str
) -> None:
    other_tenant = tenant + "b"
    callers = [(tenant, "alice"), (tenant, "bob"), (other_tenant, "alice")]
    responses = [
        await client.post("/api/v1/pedidos", json=PEDIDO, headers=auth(t, s, key="shared"))
        for t, s in callers
    ]
    assert [r.status_code for r in responses] == [201, 201, 201]
    assert all("idempotent-replayed" not in r.headers for r in responses)
    assert len({r.json()["id"] for r in responses}) == 3
    assert await count_rows(pool, tenant=tenant) == 2
    assert await count_rows(pool, tenant=other_tenant) == 1


async def test_idempotency_unauthenticated_request_gets_the_apps_401_and_touches_no_key(
    client: httpx.AsyncClient, redis_client: Redis, redis_prefix: str, controls: Controls
) -> None:
    response = await client.post(
        "/api/v1/pedidos",
        json=PEDIDO,
        headers={"Idempotency-Key": "k", "Authorization": "Bearer bad"},
    )
    assert response.status_code == 401
    assert controls.runs == 0
    assert [key async for key in redis_client.scan_iter(match=redis_prefix + "*")] == []


async def test_idempotency_ignores_paths_outside_the_prefix_and_unknown_routes(
    client: httpx.AsyncClient, controls: Controls, tenant: str
) -> None:
    outside = [await client.post("/internal/echo", headers=auth(tenant, key="k")) for _ in range(2)]
    assert [r.status_code for r in outside] == [200, 200]
    assert controls.runs == 2
    unknown = await client.post("/api/v1/nothing-here", headers=auth(tenant, key="k"))
    assert unknown.status_code == 404
    wrong_method = await client.put("/api/v1/pedidos", headers=auth(tenant, key="k"))
    assert wrong_method.status_code == 405
