"""Laws of Idempotency-Key handling, on a FastAPI app writing to a real PostgreSQL and Redis."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio import Redis

from servicekit.web.idempotency import InvalidKeyError, parse_idempotency_key, storage_key
from tests.support.backends import Backends
from tests.support.ids import new_tenant, redis_test_prefix
from tests.support.keyed_app import (
    Controls,
    auth,
    build_keyed_app,
    client_for,
    count_rows,
)
from tests.support.redis_keys import delete_prefix

SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:~+/="
safe_keys = st.text(alphabet=SAFE, min_size=1, max_size=255)

lines = st.fixed_dictionaries(
    {"item_id": st.text(min_size=1, max_size=12), "quantity": st.integers(1, 1000)}
)
pedidos = st.fixed_dictionaries(
    {
        "customer_id": st.text(min_size=1, max_size=20),
        "items": st.lists(lines, min_size=1, max_size=3),
    }
)


def reserialize(value: Any, rng: random.Random) -> Any:
    """The same JSON value with every object's keys in a random order."""
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        return {k: reserialize(value[k], rng) for k in keys}
    if isinstance(value, list):
        return [reserialize(v, rng) for v in value]
    return value


def encode(value: Any, rng: random.Random) -> bytes:
    indent = rng.choice([None, 0, 2])
    ascii_only = rng.choice([True, False])
    return json.dumps(reserialize(value, rng), indent=indent, ensure_ascii=ascii_only).encode()


@given(key=safe_keys)
def test_idempotency_any_safe_key_parses_to_itself_bare_or_quoted(key: str) -> None:
    """For any 1-255 characters of the safe set, `k` and `"k"` both name the key k."""
    assert parse_idempotency_key(key.encode()) == key
    assert parse_idempotency_key(f'"{key}"'.encode()) == key


# Optional whitespace around a header value is not part of it (RFC 9110); it is stripped.
unpadded = st.text(min_size=0, max_size=300).filter(lambda k: k == k.strip(' \t"'))


@given(key=unpadded)
def test_idempotency_a_key_parses_only_when_it_is_1_to_255_safe_characters(key: str) -> None:
    """For any string, bare or in quotes: accepted iff it is 1-255 safe characters."""
    expected = 1 <= len(key) <= 255 and all(c in SAFE for c in key)
    for form in (key, f'"{key}"'):
        try:
            parsed = parse_idempotency_key(form.encode("utf-8", "surrogatepass"))
        except InvalidKeyError:
            assert not expected
        else:
            assert expected
            assert parsed == key


scopes = st.tuples(st.text(max_size=8), st.text(max_size=8), st.text(max_size=8))


@given(a=scopes, b=scopes, key=safe_keys)
def test_idempotency_distinct_tenant_subject_route_never_share_a_storage_key(
    a: tuple[str, str, str], b: tuple[str, str, str], key: str
) -> None:
    """For any two (tenant, subject, route) triples that differ, the Redis keys differ (no
    concatenation ambiguity such as ("a:b", "c") against ("a", "b:c"))."""
    ka = storage_key("idem:", tenant=a[0], subject=a[1], method="POST", template=a[2], key=key)
    kb = storage_key("idem:", tenant=b[0], subject=b[1], method="POST", template=b[2], key=key)
    assert (ka == kb) == (a == b)


@pytest.fixture(scope="module")
async def app_client(
    pool: asyncpg.Pool, backends: Backends
) -> AsyncIterator[tuple[httpx.AsyncClient, Controls]]:
    redis = Redis.from_url(backends.redis_url)
    controls = Controls()
    namespace = redis_test_prefix("idem")
    app = build_keyed_app(pool=pool, redis=redis, controls=controls, namespace=namespace)
    async with client_for(app) as client:
        yield client, controls
    await delete_prefix(redis, namespace)
    await redis.aclose()


@given(pedido=pedidos, replays=st.integers(1, 6), seed=st.integers(0, 2**32))
async def test_idempotency_any_sequence_of_replays_makes_one_row_and_identical_responses(
    app_client: tuple[httpx.AsyncClient, Controls],
    pool: asyncpg.Pool,
    pedido: dict[str, Any],
    replays: int,
    seed: int,
) -> None:
    """For any pedido and any number of retries of it (each serialized differently: key
    order, whitespace, escapes), exactly one row exists and every response equals the first
    (status, body, Location)."""
    client, _ = app_client
    rng = random.Random(seed)
    tenant = new_tenant()
    headers = {**auth(tenant, key=uuid.uuid4().hex), "Content-Type": "application/json"}
    first = await client.post("/api/v1/pedidos", content=encode(pedido, rng), headers=headers)
    assert first.status_code == 201
    for _ in range(replays):
        again = await client.post("/api/v1/pedidos", content=encode(pedido, rng), headers=headers)
        assert again.status_code == first.status_code
        assert again.content == first.content
        assert again.headers["location"] == first.headers["location"]
        assert again.headers["idempotent-replayed"] == "true"
    assert await count_rows(pool, tenant=tenant) == 1


@given(original=pedidos, other=pedidos)
async def test_idempotency_same_key_with_another_body_is_always_422_and_changes_nothing(
    app_client: tuple[httpx.AsyncClient, Controls],
    pool: asyncpg.Pool,
    original: dict[str, Any],
    other: dict[str, Any],
) -> None:
    """For any two different pedidos sent with one key: the second is 422, no row is added,
    and the first still replays unchanged."""
    if json.dumps(original, sort_keys=True) == json.dumps(other, sort_keys=True):
        other = {**other, "customer_id": other["customer_id"] + "x"}
    client, controls = app_client
    tenant = new_tenant()
    headers = auth(tenant, key=uuid.uuid4().hex)
    first = await client.post("/api/v1/pedidos", json=original, headers=headers)
    runs = controls.runs

    conflict = await client.post("/api/v1/pedidos", json=other, headers=headers)

    assert conflict.status_code == 422
    assert conflict.headers["content-type"] == "application/problem+json"
    assert controls.runs == runs
    assert await count_rows(pool, tenant=tenant) == 1
    replay = await client.post("/api/v1/pedidos", json=original, headers=headers)
    assert replay.content == first.content
