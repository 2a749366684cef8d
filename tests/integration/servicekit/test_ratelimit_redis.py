"""The limiter on a real Redis: one budget shared by every replica, memory when Redis fails."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from servicekit.data.embedded import free_port
from servicekit.data.redis import create_redis
from servicekit.web.ratelimit import (
    MemoryRateLimitBackend,
    RateLimit,
    RateLimiter,
    RedisRateLimitBackend,
)

LIMIT = RateLimit(requests=60, period_s=60, burst=3)  # one a second after a burst of three


def _replica(redis: Redis, prefix: str) -> RateLimiter:
    return RateLimiter(LIMIT, backend=RedisRateLimitBackend(redis, prefix=prefix), name="token")


async def test_replicas_share_one_budget_per_key(redis_client: Redis, redis_prefix: str) -> None:
    a, b = _replica(redis_client, redis_prefix), _replica(redis_client, redis_prefix)
    decisions = [await limiter.hit("ip:1") for limiter in (a, b, a, b)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert 0 < decisions[-1].retry_after_s <= 1.0
    assert (await b.hit("ip:2")).allowed  # another key, another budget


async def test_keys_expire_once_their_budget_is_whole_again(
    redis_client: Redis, redis_prefix: str
) -> None:
    limiter = _replica(redis_client, redis_prefix)
    await limiter.hit("client:a")
    keys = [k async for k in redis_client.scan_iter(match=redis_prefix + "*")]
    assert len(keys) == 1
    ttl_ms = await redis_client.pttl(keys[0])
    assert 0 < ttl_ms <= 1000  # one interval: nothing outlives the time it takes to refill


async def test_an_unreachable_redis_falls_back_to_counting_in_process() -> None:
    # The services' own client (short timeouts, no retries): a dead Redis fails at once.
    dead = create_redis(f"redis://127.0.0.1:{free_port()}/0")
    fallback = MemoryRateLimitBackend()
    slow = RateLimit(requests=1, period_s=60, burst=3)
    limiter = RateLimiter(
        slow, backend=RedisRateLimitBackend(dead, fallback=fallback), name="token"
    )
    try:
        decisions = [await limiter.hit("ip:1") for _ in range(4)]
    finally:
        await dead.aclose()
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert len(fallback) == 1


@pytest.mark.parametrize("key", ["ip:203.0.113.7", "client:" + "x" * 10_000, "client:\x00\n*"])
async def test_any_caller_input_is_a_short_safe_key(
    redis_client: Redis, redis_prefix: str, key: str
) -> None:
    await _replica(redis_client, redis_prefix).hit(key)
    stored = [k async for k in redis_client.scan_iter(match=redis_prefix + "*")]
    assert len(stored) == 1
    assert len(stored[0]) < len(redis_prefix) + 64
