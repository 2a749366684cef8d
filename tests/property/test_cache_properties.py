"""Laws of the cache: TTL jitter range and the XFetch rule, the latter on a real Redis."""

from __future__ import annotations

import math
import random
from collections.abc import AsyncIterator

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from redis.asyncio import Redis

from servicekit.data.cache import (
    JITTER_MAX,
    JITTER_MIN,
    CacheEntry,
    RedisCache,
    _ttl_ms,
    encode_entry,
)
from tests.support.backends import Backends
from tests.support.cachetools import CountingCompute
from tests.support.ids import redis_test_prefix

bases = st.floats(min_value=60, max_value=86_400, allow_nan=False)


@given(base=bases, u=st.floats(min_value=0, max_value=1))
def test_cache_for_any_base_ttl_the_jittered_ttl_lies_in_base_x_1_05_to_1_15(
    base: float, u: float
) -> None:
    """For any base TTL in [60 s, 86 400 s] and any draw, TTL in [base x 1.05, base x 1.15];
    the whole milliseconds sent to Redis stay inside the range too."""
    cache = RedisCache(Redis(), jitter_random=lambda: u)  # no I/O: the TTL only
    ttl = cache.jittered_ttl_s(base)
    assert base * 1.05 * (1 - 1e-12) <= ttl <= base * 1.15 * (1 + 1e-12)
    ms = _ttl_ms(base, ttl)
    assert math.ceil(base * 1.05 * 1000) <= ms <= math.floor(base * 1.15 * 1000)


@given(base=bases, seed=st.integers(min_value=0, max_value=2**32))
def test_cache_for_any_base_ttl_many_draws_reach_both_ends_of_the_range(
    base: float, seed: int
) -> None:
    """For any base, 20 000 draws of the default source come within 0.1 % of the range width
    of both ends (the chance of missing one end is (1 - 0.001)^20000 ~ 2e-9)."""
    rng = random.Random(seed)
    cache = RedisCache(Redis(), jitter_random=rng.random)
    fractions = [cache.jittered_ttl_s(base) / base - 1 for _ in range(20_000)]
    width = JITTER_MAX - JITTER_MIN
    assert min(fractions) < JITTER_MIN + width * 0.001
    assert max(fractions) > JITTER_MAX - width * 0.001
    assert min(fractions) >= JITTER_MIN - 1e-12
    assert max(fractions) <= JITTER_MAX + 1e-12


@pytest.fixture(scope="module")
async def xfetch_redis(backends: Backends) -> AsyncIterator[Redis]:
    client = Redis.from_url(backends.redis_url)
    yield client
    await client.aclose()


@given(
    rand=st.floats(min_value=1e-12, max_value=1.0, exclude_min=False),
    delta=st.floats(min_value=0.0001, max_value=5.0),
    remaining=st.floats(min_value=0.0, max_value=120.0),
)
async def test_cache_with_a_fixed_random_source_early_recompute_fires_exactly_per_xfetch(
    xfetch_redis: Redis, rand: float, delta: float, remaining: float
) -> None:
    """For any rand, delta and time left: the read recomputes iff
    now - delta * ln(rand) >= expiry (beta 1), and otherwise serves the cached value."""
    now = 1_700_000_000.0
    expiry = now + remaining
    lead = -delta * math.log(rand)
    assume(abs((now + lead) - expiry) > 1e-6)  # off the float knife-edge
    expected = now + lead >= expiry
    namespace = redis_test_prefix()
    cache = RedisCache(
        xfetch_redis,
        name="xfetch",
        namespace=namespace,
        clock=lambda: now,
        xfetch_random=lambda: rand,
    )
    await xfetch_redis.set(
        cache.value_key("k"), encode_entry(CacheEntry(b"cached", expiry, delta)), px=600_000
    )
    compute = CountingCompute(b"recomputed")
    try:
        value = await cache.get_or_compute("k", compute, base_ttl_s=60)
    finally:
        await xfetch_redis.delete(cache.value_key("k"))
    assert compute.runs == (1 if expected else 0)
    assert value == (b"recomputed" if expected else b"cached")
