"""RedisCache with a Redis of its own that the test stops, pauses and restarts."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio import Redis

from servicekit.data.cache import RedisCache
from servicekit.data.embedded import EmbeddedRedis
from servicekit.data.redis import create_redis
from tests.support.cachetools import CountingCompute, cache_counter, read_until


@pytest.fixture
async def client(own_redis: EmbeddedRedis) -> AsyncIterator[Redis]:
    redis = create_redis(own_redis.url())
    yield redis
    await redis.aclose()


COOLDOWN_S = 0.05
# A stopped Redis refuses at once; the deadline is for a slow one. It is long, so a read that
# waited on it instead of failing fast could not hide among a busy machine's delays.
DOWN_OP_TIMEOUT_S = 10.0


def _cache(redis: Redis, **kwargs: object) -> RedisCache:
    options: dict[str, object] = {
        "name": "faults",
        "namespace": "cache:",
        "breaker_cooldown_s": COOLDOWN_S,
        "op_timeout_s": DOWN_OP_TIMEOUT_S,
    }
    options.update(kwargs)
    return RedisCache(redis, **options)  # type: ignore[arg-type]


async def test_cache_reads_answer_from_compute_while_redis_is_down_and_recover(
    own_redis: EmbeddedRedis, client: Redis
) -> None:
    cache = _cache(client)
    database = CountingCompute(b"row-v1")
    assert await cache.get_or_compute("item:1", database, base_ttl_s=60) == b"row-v1"
    errors_before = cache_counter("errors", "faults")

    await asyncio.to_thread(own_redis.stop)
    started = time.monotonic()
    answers = [await cache.get_or_compute("item:1", database, base_ttl_s=60) for _ in range(20)]
    elapsed = time.monotonic() - started

    assert answers == [b"row-v1"] * 20
    assert database.runs == 21  # every read went to the "database"
    assert elapsed < DOWN_OP_TIMEOUT_S  # not one read waited for the deadline
    assert cache_counter("errors", "faults") - errors_before >= 1

    await asyncio.to_thread(own_redis.start)
    # Served from Redis again (its data survived the restart), once the breaker's cooldown
    # is over and the client has reconnected.
    deadline = time.monotonic() + COOLDOWN_S + DOWN_OP_TIMEOUT_S
    while True:
        await asyncio.sleep(COOLDOWN_S)
        runs = database.runs
        assert await cache.get_or_compute("item:1", database, base_ttl_s=60) == b"row-v1"
        if database.runs == runs:
            break
        assert time.monotonic() < deadline, "reads never came from Redis again"


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def cache_log() -> Iterator[_Records]:
    """The cache logger's warnings, on the logger itself: whatever an earlier test (any order)
    did to the root logger's level or handlers, these counts see every record."""
    logger = logging.getLogger("servicekit.data.cache")
    handler, saved = _Records(), (logger.level, logger.disabled)
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.disabled = False
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.disabled = saved[1]


def _redis_failures(log: _Records) -> int:
    """Operations that went to Redis and failed (each logs once); a read or invalidation the
    open breaker keeps from Redis is counted as an error but never logged."""
    return sum(r.getMessage() == "redis unavailable to the cache" for r in log.records)


async def test_cache_slow_redis_costs_one_deadline_then_the_breaker_skips_it(
    own_redis: EmbeddedRedis, client: Redis, cache_log: _Records
) -> None:
    op_timeout_s, pause_s = 0.1, 1.5
    cache = _cache(client, breaker_cooldown_s=5.0, op_timeout_s=op_timeout_s)
    database = CountingCompute(b"row")
    await _cache(client).get_or_compute("k", database, base_ttl_s=60)
    cache_log.records.clear()
    pauser = Redis.from_url(own_redis.url())
    try:
        await pauser.client_pause(int(pause_s * 1000), all=True)

        started = time.monotonic()
        first = await cache.get_or_compute("k", database, base_ttl_s=60)
        first_took = time.monotonic() - started
        started = time.monotonic()
        first_failures = _redis_failures(cache_log)
        rest = [await cache.get_or_compute("k", database, base_ttl_s=60) for _ in range(10)]
    finally:
        await pauser.aclose()

    assert first == b"row"
    assert rest == [b"row"] * 10
    assert op_timeout_s <= first_took < pause_s  # the deadline, not Redis's pause
    assert first_failures == 1  # the one deadline
    # The breaker is open: the other reads never went to Redis, so none waited on it.
    assert _redis_failures(cache_log) == 1


async def test_cache_invalidations_on_a_slow_redis_cost_one_deadline_and_land_later(
    own_redis: EmbeddedRedis, client: Redis, cache_log: _Records
) -> None:
    """A write touching many items while Redis hangs waits one deadline, not one per item;
    every entry is still gone before the next read is served from Redis."""
    cooldown_s, pause_s = 2.0, 0.8
    cache = _cache(client, breaker_cooldown_s=cooldown_s, op_timeout_s=0.1)
    keys = [f"item:{n}" for n in range(30)]
    for key in keys:
        await cache.get_or_compute(key, CountingCompute(b"old"), base_ttl_s=60)
    cache_log.records.clear()
    pauser = Redis.from_url(own_redis.url())
    try:
        paused_at = time.monotonic()
        await pauser.client_pause(int(pause_s * 1000), all=True)
        taken = [await cache.invalidate(key) for key in keys]
        queued_at = time.monotonic()
    finally:
        await pauser.aclose()
    assert taken == [False] * 30
    # One deadline, then the breaker queues the rest without waiting on Redis.
    assert _redis_failures(cache_log) == 1

    # The pause and the breaker are over (the breaker tripped before `queued_at`).
    await asyncio.sleep(max(paused_at + pause_s, queued_at + cooldown_s) - time.monotonic())
    fresh = CountingCompute(b"new")
    assert [await cache.get_or_compute(k, fresh, base_ttl_s=60) for k in keys] == [b"new"] * 30
    assert [await client.exists(cache.value_key(k)) for k in keys] == [1] * 30  # cached anew


async def test_cache_invalidation_lost_to_an_outage_is_replayed_before_the_next_read(
    own_redis: EmbeddedRedis, client: Redis
) -> None:
    """A write while Redis is down cannot delete the cached value; when Redis comes back
    with its old data, the cache deletes it before it serves anything."""
    cache = _cache(client)
    assert await cache.get_or_compute("item:1", CountingCompute(b"v1"), base_ttl_s=60) == b"v1"

    await asyncio.to_thread(own_redis.stop)  # saves v1 to the RDB file
    assert await cache.invalidate("item:1") is False  # the write committed; Redis is away
    await asyncio.to_thread(own_redis.start)
    await asyncio.sleep(COOLDOWN_S)  # the breaker tripped before the restart
    assert await client.exists(cache.value_key("item:1")) == 1  # v1 is back from disk

    assert await cache.get_or_compute("item:1", CountingCompute(b"v2"), base_ttl_s=60) == b"v2"


async def test_cache_local_layer_is_cleared_when_the_invalidation_feed_had_a_gap(
    own_redis: EmbeddedRedis, client: Redis
) -> None:
    """Invalidations published while a replica was cut off are lost to it: it forgets all."""
    reader = _cache(client, local_ttl_s=60)
    await reader.start()
    try:
        assert await reader.wait_subscribed()
        assert await reader.get_or_compute("k", CountingCompute(b"v1"), base_ttl_s=60) == b"v1"

        await asyncio.to_thread(own_redis.stop)
        await asyncio.to_thread(own_redis.start)
        other = create_redis(own_redis.url())
        try:
            writer = _cache(other)
            await writer.invalidate("k")  # maybe before the reader re-subscribed: lost
        finally:
            await other.aclose()
        # The reader notices the gap within moments and drops v1; its local TTL is 60 s.
        assert await read_until(reader, "k", b"v2", within_s=5) == b"v2"
        assert await reader.wait_subscribed()
    finally:
        await reader.aclose()
