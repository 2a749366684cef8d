"""The item read cache: keys, the lifespan hook that builds it, and invalidation on commit.

`GET /api/v1/items/{id}` answers from `servicekit.cache.RedisCache` (final response bytes and
the ETag, tenant in the key); see `items.service.read_item`. Every change of an item writes an
`ItemUpdated` or `ItemDeleted` event to the outbox, and recording one of those registers the
item's invalidation to run once the transaction commits (`OutboxRepository.record`), so no
writer can change an item and forget its cache entry.

The cache reaches the sessions through `session.info`: the lifespan hook configures the
app's sessionmaker with it, so request sessions (and the warm command's) know it, while a
session built elsewhere (tests of the use cases) simply invalidates nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass

from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from orders_service.settings import OrdersSettings
from servicekit.app import LifespanHook, ServiceResources
from servicekit.cache import RedisCache, WarmEntry, pack_response, unpack_response
from servicekit.db import after_commit

ITEM_CACHE = "orders.item_cache"  # key in resources.extras and in session.info
_PENDING = "orders.items_to_invalidate"


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


def item_cache_hook(settings: OrdersSettings) -> LifespanHook:
    """Build the item cache once per process and hand it to every session the app opens."""

    async def hook(_app: FastAPI, resources: ServiceResources, stack: AsyncExitStack) -> None:
        if resources.redis is None or not settings.cache_enabled:
            return
        item_cache = build_item_cache(settings, resources.redis)
        # Subscribes to other replicas' invalidations (local layer only); redis-py retries.
        await item_cache.cache.start()
        stack.push_async_callback(item_cache.cache.aclose)
        resources.extras[ITEM_CACHE] = item_cache
        resources.sessionmaker.configure(info={ITEM_CACHE: item_cache})

    return hook


def invalidate_item_on_commit(session: AsyncSession, *, tenant_id: str, item_id: uuid.UUID) -> None:
    """Drop the item's cache entry once this session's transaction commits (never on rollback).

    After the commit, not before: an invalidation before it would let a concurrent reader
    cache the old row again in the window before the new one becomes visible. A read that
    started before the commit cannot store what it read either: the invalidation also deletes
    the entry's lock, and a store only happens while its lock is held.
    """
    item_cache: ItemCache | None = session.info.get(ITEM_CACHE)
    if item_cache is None:
        return
    pending: set[tuple[str, uuid.UUID]] | None = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = set()

        async def invalidate_all() -> None:
            for tenant, item in sorted(session.info.pop(_PENDING, ()), key=str):
                await item_cache.invalidate(tenant, item)

        after_commit(session, invalidate_all)
    pending.add((tenant_id, item_id))
