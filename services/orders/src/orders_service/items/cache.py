"""The item read cache: keys, the read path through it, warming, and invalidation.

`GET /api/v1/items/{id}` answers from `servicekit.data.cache.RedisCache` (final response bytes and
the ETag, tenant in the key). Invalidation is an after-commit handler of the item events
(`invalidate_item`, registered by the composition root in `orders_service.state`).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from orders_service.items.repository import hottest_items
from orders_service.items.service import render_item
from orders_service.outbox.schemas import ItemDeleted, ItemStockAdjusted, ItemUpdated
from orders_service.reads import read_only_connection, read_only_session
from orders_service.settings import OrdersSettings
from servicekit.data.cache import RedisCache, WarmEntry, pack_response, unpack_response


class _AbsentError(Exception):
    """The item does not exist for this tenant: answered 404, never cached."""


@dataclass(frozen=True, slots=True)
class CachedItem:
    body: bytes
    etag: str


@dataclass(frozen=True, slots=True)
class ItemCache:
    """Item representations in a RedisCache, one entry per (tenant, item)."""

    cache: RedisCache
    ttl_s: float

    @staticmethod
    def key(tenant_id: str, item_id: uuid.UUID) -> str:
        # The id is a UUID (no ':'), so the tenant part is unambiguous whatever it holds.
        return f"item:{tenant_id}:{item_id}"

    async def get_or_render(
        self,
        *,
        tenant_id: str,
        item_id: uuid.UUID,
        render: Callable[[], Awaitable[CachedItem | None]],
    ) -> CachedItem | None:
        """The cached representation, or `render()`'s (stored); None when there is none."""

        async def compute() -> bytes:
            rendered = await render()
            if rendered is None:
                raise _AbsentError
            return pack_response(rendered.body, {"ETag": rendered.etag})

        try:
            data = await self.cache.get_or_compute(
                self.key(tenant_id, item_id), compute, base_ttl_s=self.ttl_s
            )
        except _AbsentError:
            return None
        headers, body = unpack_response(data)
        return CachedItem(body, headers["ETag"])

    def get_local(self, tenant_id: str, item_id: uuid.UUID) -> CachedItem | None:
        """The representation held in this process's layer, if any (no I/O)."""
        data = self.cache.get_local(self.key(tenant_id, item_id))
        if data is None:
            return None
        headers, body = unpack_response(data)
        return CachedItem(body, headers["ETag"])

    async def invalidate(self, tenant_id: str, item_id: uuid.UUID) -> bool:
        return await self.cache.invalidate(self.key(tenant_id, item_id))

    def warm_entry(
        self, tenant_id: str, item_id: uuid.UUID, render: Callable[[], Awaitable[CachedItem | None]]
    ) -> WarmEntry:
        async def compute() -> bytes:
            rendered = await render()
            if rendered is None:
                raise _AbsentError  # deleted since it was chosen: skipped by warm()
            return pack_response(rendered.body, {"ETag": rendered.etag})

        return WarmEntry(self.key(tenant_id, item_id), compute, self.ttl_s)


def build_item_cache(settings: OrdersSettings, redis: Redis, *, local: bool = True) -> ItemCache:
    """The item cache from settings; `local=False` leaves out the in-process layer (commands)."""
    cache = RedisCache(
        redis,
        name="items",
        namespace=settings.cache_namespace,
        lock_ttl_s=settings.cache_lock_ttl_s,
        wait_timeout_s=settings.cache_wait_timeout_s,
        op_timeout_s=settings.cache_op_timeout_s,
        breaker_cooldown_s=settings.cache_breaker_cooldown_s,
        local_ttl_s=settings.cache_local_ttl_s if local else 0.0,
        local_max_entries=settings.cache_local_max_entries,
    )
    return ItemCache(cache, settings.cache_item_ttl_s)


def invalidate_item(
    item_cache: ItemCache,
) -> Callable[[ItemUpdated | ItemStockAdjusted | ItemDeleted], Awaitable[None]]:
    """The after-commit handler of an item change: drop the item's entry.

    After the commit, not before: an invalidation before it would let a concurrent reader
    cache the old row again in the window before the new one becomes visible. A read that
    started before the commit cannot store what it read either: the invalidation also deletes
    the entry's lock, and a store only happens while its lock is held.
    """

    async def handle(event: ItemUpdated | ItemStockAdjusted | ItemDeleted) -> None:
        await item_cache.invalidate(event.tenant_id, event.item_id)

    return handle


def _loader(
    engine: AsyncEngine, *, tenant_id: str, item_id: uuid.UUID
) -> Callable[[], Awaitable[CachedItem | None]]:
    async def load() -> CachedItem | None:
        # A connection of its own, taken only on a miss: a cache hit touches no database pool.
        # One SELECT in autocommit: no BEGIN, no ROLLBACK round trips (orders_service.reads).
        async with read_only_connection(engine) as connection:
            rendered = await render_item(connection, tenant_id=tenant_id, item_id=item_id)
        return None if rendered is None else CachedItem(rendered.body, rendered.etag)

    return load


async def read_item(
    item_cache: ItemCache | None,
    engine: AsyncEngine,
    *,
    tenant_id: str,
    item_id: uuid.UUID,
) -> CachedItem | None:
    """GET /items/{id}: the item cache's entry, else the database's answer (then cached).

    None means 404 (absent, deleted or another tenant's); absence is never cached. Without
    Redis, or with Redis down or slow, this reads the database (servicekit.data.cache).
    """
    if item_cache is not None:
        hit = item_cache.get_local(tenant_id, item_id)  # the common case: no I/O at all
        if hit is not None:
            return hit
    load = _loader(engine, tenant_id=tenant_id, item_id=item_id)
    if item_cache is None:
        return await load()
    return await item_cache.get_or_render(tenant_id=tenant_id, item_id=item_id, render=load)


async def warm_item_cache(
    engine: AsyncEngine,
    item_cache: ItemCache,
    *,
    limit: int,
    since: datetime,
) -> tuple[int, int]:
    """Load the hottest items (see `hottest_items`) into the cache; (stored, chosen).

    Each entry re-reads its item when its turn comes (under the entry's lock), so a write
    during the warm-up is never overwritten by a representation read before it.
    """
    async with read_only_session(engine) as session:
        chosen = await hottest_items(session, limit=limit, since=since)
    entries = [
        item_cache.warm_entry(
            tenant_id, item_id, _loader(engine, tenant_id=tenant_id, item_id=item_id)
        )
        for tenant_id, item_id in chosen
    ]
    return await item_cache.cache.warm(entries), len(entries)
