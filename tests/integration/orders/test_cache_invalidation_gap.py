"""No stale refill of the in-process cache layer while an invalidation is on its way to Redis.

Issue 13, point 4: the writing replica bumped its epoch and dropped its local entry before the
Redis DEL. A read in between got the old value from Redis under the new epoch and put it back
into the local layer, where it was served until the local TTL (pub/sub would have evicted
it; here the subscription is down, as during a Redis failover).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from redis.asyncio import Redis

from servicekit.data.cache import _INVALIDATE, RedisCache
from tests.support.backends import Backends
from tests.support.cachetools import CountingCompute
from tests.support.redis_keys import delete_prefix


class _DelHeldRedis(Redis):
    """A client whose next invalidation script waits for `release` before reaching Redis."""

    held = False
    entered: asyncio.Event
    release: asyncio.Event

    async def evalsha(self, sha: str, numkeys: int, *keys_and_args: Any) -> Any:
        if self.held and sha == _INVALIDATE.sha:
            self.held = False
            self.entered.set()
            await self.release.wait()
        return await super().evalsha(sha, numkeys, *keys_and_args)


@pytest.fixture
async def held_redis(backends: Backends, redis_prefix: str) -> AsyncIterator[_DelHeldRedis]:
    # from_url builds an instance of the class it is called on.
    client = cast(_DelHeldRedis, _DelHeldRedis.from_url(backends.redis_url))
    client.entered, client.release = asyncio.Event(), asyncio.Event()
    yield client
    await delete_prefix(client, redis_prefix)
    await client.aclose()


async def test_a_read_during_the_invalidation_does_not_refill_the_local_layer_with_the_old_value(
    held_redis: _DelHeldRedis, redis_prefix: str
) -> None:
    # No start(): no pub/sub subscription, so only the writer's own ordering protects it.
    cache = RedisCache(
        held_redis,
        name="gap",
        namespace=redis_prefix + "cache:",
        local_ttl_s=30,
        op_timeout_s=5,
        wait_timeout_s=5,
    )
    assert await cache.get_or_compute("item", CountingCompute(b"old"), base_ttl_s=60) == b"old"

    held_redis.held = True
    invalidation = asyncio.create_task(cache.invalidate("item"))  # the write has committed
    await held_redis.entered.wait()  # the DEL is on its way, not yet applied
    # A reader on the same replica in the gap: Redis still has the old value.
    during = await cache.get_or_compute("item", CountingCompute(b"new"), base_ttl_s=60)
    assert during == b"old"  # unavoidable: the DEL has not happened yet
    held_redis.release.set()
    assert await invalidation

    assert cache.get_local("item") is None
    assert await cache.get_or_compute("item", CountingCompute(b"new"), base_ttl_s=60) == b"new"
