"""`orders-service cache warm`: the hottest items of every tenant, staggered TTLs (issue 7).

Hottest is a ranking across tenants, so this test has a database of its own: the items of
other tests would otherwise take the places it checks.
"""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import col

from orders_service.items.models import Item
from orders_service.items.schemas import ItemCreate
from orders_service.items.service import ItemService, render
from orders_service.pedidos.models import Pedido
from orders_service.pedidos.schemas import PedidoCreate
from orders_service.pedidos.service import PedidoService
from servicekit.data.cache import decode_entry, unpack_response
from servicekit.data.migrations import upgrade_head
from tests.support.backends import Backends, create_database, drop_database
from tests.support.environment import clean_environ
from tests.support.ids import new_tenant
from tests.support.orders import actor, orders_engine_for
from tests.support.processes import REPO_ROOT
from tests.support.redis_keys import delete_prefix


@pytest.fixture
async def warm_database(backends: Backends) -> AsyncIterator[tuple[str, AsyncEngine]]:
    url = await create_database(backends.postgres_url, "test_warm")
    await asyncio.to_thread(upgrade_head, "orders", url)
    engine = orders_engine_for(url)
    yield url, engine
    await engine.dispose()
    await drop_database(url)


def _item(name: str) -> ItemCreate:
    return ItemCreate.model_validate(
        {
            "sku": f"SKU-{uuid.uuid4().hex[:8]}",
            "name": name,
            "price": {"amount": "10.00", "currency": "BRL"},
            "category": "kitchen",
            "quantity": 50,
        }
    )


def _warm(database_url: str, redis_url: str, namespace: str, limit: int) -> str:
    env = {
        **clean_environ(),
        "ORDERS_DATABASE_URL": database_url,
        "ORDERS_REDIS_URL": redis_url,
        "ORDERS_CACHE_NAMESPACE": namespace,
    }
    done = subprocess.run(
        [sys.executable, "-m", "orders_service.cli", "cache", "warm", "--limit", str(limit)],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


async def test_cache_warm_loads_the_most_ordered_items_then_the_freshest_with_staggered_ttls(
    warm_database: tuple[str, AsyncEngine],
    backends: Backends,
    redis_client: Redis,
    redis_prefix: str,
) -> None:
    database_url, engine = warm_database
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    a, b = new_tenant(), new_tenant()
    async with sessions.begin() as session:
        items_a = ItemService(session, actor(a))
        items_b = ItemService(session, actor(b))
        a1, a2, a3 = [await items_a.create(_item(n)) for n in ("a1", "a2", "a3")]
        b1, b2 = [await items_b.create(_item(n)) for n in ("b1", "b2")]

    def lines(*items: Item) -> PedidoCreate:
        return PedidoCreate.model_validate(
            {"customer_id": "c", "items": [{"item_id": str(i.id), "quantity": 1} for i in items]}
        )

    async with sessions.begin() as session:
        pedidos_a = PedidoService(session, actor(a))
        pedidos_b = PedidoService(session, actor(b))
        for _ in range(3):
            await pedidos_a.create(lines(a2))
        for _ in range(2):
            await pedidos_b.create(lines(b1))
        cancelled = await pedidos_a.create(lines(a1, a1, a1, a1))
        await pedidos_a.cancel(cancelled.id)  # cancelled pedidos do not count
        old = await pedidos_a.create(lines(a1, a1, a1, a1))
        await pedidos_a.create(lines(a3, a3, a3, a3))
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        # Outside the window: a1's pedido of last month does not make it hot today.
        await session.execute(
            update(Pedido)
            .where(col(Pedido.id) == old.id)
            .values(created_at=now - timedelta(days=30))
        )
        # Among items nobody ordered lately, the most recently updated come first.
        for item, age in ((b2, 1), (a1, 2)):
            await session.execute(
                update(Item)
                .where(col(Item.id) == item.id)
                .values(updated_at=now - timedelta(hours=age))
            )
        await ItemService(session, actor(a)).delete(a3.id)  # deleted: never warmed
    expected = [(a, a2), (b, b1), (b, b2), (a, a1)]
    namespace = redis_prefix + "cache:"
    try:
        out = await asyncio.to_thread(_warm, database_url, backends.redis_url, namespace, 4)
        assert "stored 4 of the 4 hottest items" in out

        ttls = []
        for tenant, item in expected:
            key = f"{namespace}val:item:{tenant}:{item.id}"
            raw = await redis_client.get(key)
            assert isinstance(raw, bytes), item.name
            entry = decode_entry(raw)
            assert entry is not None
            headers, body = unpack_response(entry.value)
            async with sessions() as session:
                current = render(await ItemService(session, actor(tenant)).get(item.id))
            assert (body, headers["ETag"]) == (current.body, current.etag)
            ttls.append(await redis_client.pttl(key))
        # Within [base x 1.05, base x 1.15] (less the seconds the test took), and staggered:
        # the hottest expire first, the four spread over the range rather than in a clump.
        assert all(300 * 1.05 * 1000 - 5000 <= ttl <= 300 * 1.15 * 1000 for ttl in ttls)
        # (PTTLs are read one after another: a tolerance of a second for the reading.)
        assert all(later >= earlier - 1000 for earlier, later in itertools.pairwise(ttls))
        assert ttls[-1] - ttls[0] >= 300 * 0.10 * 1000 / 4
        warmed = [key async for key in redis_client.scan_iter(match=namespace + "val:*")]
        assert len(warmed) == 4

        again = await asyncio.to_thread(_warm, database_url, backends.redis_url, namespace, 4)
        assert "stored 0 of the 4 hottest items" in again  # already cached: left as they are
    finally:
        await delete_prefix(redis_client, redis_prefix)
