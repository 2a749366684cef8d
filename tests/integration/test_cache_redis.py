"""RedisCache against a real Redis: stampedes, lock hand-over, invalidation, layers, warming."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from servicekit.data.cache import RedisCache, WarmEntry, decode_entry
from tests.support.backends import Backends
from tests.support.cachetools import CountingCompute, cache_counter, read_until
from tests.support.redis_keys import delete_prefix


@pytest.fixture(autouse=True)
async def _drop_test_keys(redis_client: Redis, redis_prefix: str) -> AsyncIterator[None]:
    yield
    await delete_prefix(redis_client, redis_prefix)


def _cache(redis: Redis, prefix: str, **kwargs: object) -> RedisCache:
    # Generous deadlines: these tests are about locking and layers on a shared, busy machine;
    # the deadlines themselves are tested in test_cache_faults.py.
    options: dict[str, object] = {
        "name": "test",
        "namespace": prefix + "cache:",
        "op_timeout_s": 5.0,
        "wait_timeout_s": 5.0,
    }
    options.update(kwargs)
    return RedisCache(redis, **options)  # type: ignore[arg-type]


@pytest.fixture
async def replicas(backends: Backends) -> AsyncIterator[list[Redis]]:
    """Five separate clients: each stands for one replica of a service."""
    clients = [Redis.from_url(backends.redis_url) for _ in range(5)]
    yield clients
    for client in clients:
        await client.aclose()


async def test_cache_stampede_of_100_callers_on_a_cold_key_computes_once(
    replicas: list[Redis], redis_prefix: str
) -> None:
    caches = [_cache(client, redis_prefix) for client in replicas]
    compute = CountingCompute(value=b"item-1", delay_s=0.05)
    waits_before = cache_counter("lock_waits", "test")

    results = await asyncio.gather(
        *(caches[i % 5].get_or_compute("item:1", compute, base_ttl_s=300) for i in range(100))
    )

    assert results == [b"item-1"] * 100
    assert compute.runs == 1
    assert cache_counter("lock_waits", "test") - waits_before == 99
    raw = await replicas[0].get(caches[0].value_key("item:1"))
    assert isinstance(raw, bytes)
    entry = decode_entry(raw)
    assert entry is not None
    assert entry.value == b"item-1"
    assert entry.delta >= 0.05  # the compute time is stored with the value
    assert await replicas[0].exists(caches[0].lock_key(caches[0].value_key("item:1"))) == 0


async def test_cache_holder_crash_lets_a_later_caller_recompute_within_the_bound(
    redis_client: Redis, redis_prefix: str
) -> None:
    cache = _cache(redis_client, redis_prefix, lock_ttl_s=0.3, wait_timeout_s=2.0)
    # A holder that took the lock and died: nobody will ever release it.
    await redis_client.set(cache.lock_key(cache.value_key("k")), "dead-holder", px=300)
    compute = CountingCompute(value=b"fresh")

    started = time.monotonic()
    results = await asyncio.gather(
        *(cache.get_or_compute("k", compute, base_ttl_s=60) for _ in range(10))
    )
    elapsed = time.monotonic() - started

    assert results == [b"fresh"] * 10
    assert compute.runs == 1  # the first poll after the lock expired took it over
    assert 0.25 <= elapsed < 2.0
    assert await redis_client.get(cache.lock_key(cache.value_key("k"))) is None


async def test_cache_no_caller_waits_past_the_bound(redis_client: Redis, redis_prefix: str) -> None:
    """A holder stuck longer than the bound: waiters compute for themselves, on time."""
    cache = _cache(redis_client, redis_prefix, lock_ttl_s=10, wait_timeout_s=0.2)
    stuck = CountingCompute(value=b"slow", release=asyncio.Event())
    holder = asyncio.create_task(cache.get_or_compute("k", stuck, base_ttl_s=60))
    await stuck.started.wait()
    own = CountingCompute(value=b"own")
    timeouts_before = cache_counter("lock_timeouts", "test")

    async def timed() -> tuple[bytes, float]:
        started = time.monotonic()
        value = await cache.get_or_compute("k", own, base_ttl_s=60)
        return value, time.monotonic() - started

    results = await asyncio.gather(*(timed() for _ in range(20)))

    assert [value for value, _ in results] == [b"own"] * 20
    assert min(took for _, took in results) >= 0.2  # they did wait for the holder...
    assert max(took for _, took in results) < 0.2 + 0.3  # ...up to the bound (+ slack)
    assert own.runs == 20
    assert cache_counter("lock_timeouts", "test") - timeouts_before == 20
    # The waiters did not write: the holder's value lands once it finishes.
    assert await redis_client.get(cache.value_key("k")) is None
    assert stuck.release is not None
    stuck.release.set()
    assert await holder == b"slow"
    assert await cache.get_or_compute("k", own, base_ttl_s=60) == b"slow"


async def test_cache_failed_compute_propagates_and_frees_the_lock_at_once(
    redis_client: Redis, redis_prefix: str
) -> None:
    cache = _cache(redis_client, redis_prefix, lock_ttl_s=30)

    async def fails() -> bytes:
        raise LookupError("no such item")

    with pytest.raises(LookupError):
        await cache.get_or_compute("k", fails, base_ttl_s=60)
    assert await redis_client.exists(cache.lock_key(cache.value_key("k"))) == 0
    assert await cache.get_or_compute("k", CountingCompute(b"x"), base_ttl_s=60) == b"x"


async def test_cache_stored_ttl_is_jittered_within_5_to_15_percent(
    redis_client: Redis, redis_prefix: str
) -> None:
    cache = _cache(redis_client, redis_prefix)
    ttls = []
    for i in range(40):
        await cache.get_or_compute(f"k{i}", CountingCompute(b"x"), base_ttl_s=1000)
        ttls.append(await redis_client.pttl(cache.value_key(f"k{i}")))
    assert all(1_050_000 - 100 <= ttl <= 1_150_000 for ttl in ttls)
    assert len(set(ttls)) > 30  # spread, not one value


async def test_cache_invalidate_removes_the_value_and_the_next_read_recomputes(
    redis_client: Redis, redis_prefix: str
) -> None:
    cache = _cache(redis_client, redis_prefix, local_ttl_s=5)
    assert await cache.get_or_compute("k", CountingCompute(b"old"), base_ttl_s=60) == b"old"

    assert await cache.invalidate("k") is True

    assert await redis_client.exists(cache.value_key("k")) == 0
    assert await cache.get_or_compute("k", CountingCompute(b"new"), base_ttl_s=60) == b"new"


async def test_cache_invalidate_during_a_compute_keeps_the_stale_result_out(
    redis_client: Redis, redis_prefix: str
) -> None:
    """A compute that read the old state before a write must not cache it after the write."""
    cache = _cache(redis_client, redis_prefix, local_ttl_s=5)
    stale = CountingCompute(value=b"before-write", release=asyncio.Event())
    reader = asyncio.create_task(cache.get_or_compute("k", stale, base_ttl_s=60))
    await stale.started.wait()

    await cache.invalidate("k")  # the write committed meanwhile
    assert stale.release is not None
    stale.release.set()
    assert await reader == b"before-write"  # that reader raced the write; fine

    fresh = CountingCompute(value=b"after-write")
    assert await cache.get_or_compute("k", fresh, base_ttl_s=60) == b"after-write"
    assert fresh.runs == 1


async def test_cache_local_layer_answers_without_redis_and_evicts_on_local_invalidate(
    redis_client: Redis, redis_prefix: str
) -> None:
    cache = _cache(redis_client, redis_prefix, local_ttl_s=5)
    await cache.get_or_compute("k", CountingCompute(b"v1"), base_ttl_s=60)
    # Behind the cache's back (as if by a bug): the local layer still answers v1...
    await redis_client.delete(cache.value_key("k"))
    local_before = cache_counter("hits", "test", layer="local")
    assert await cache.get_or_compute("k", CountingCompute(b"v2"), base_ttl_s=60) == b"v1"
    assert cache_counter("hits", "test", layer="local") - local_before == 1
    # ...and a local invalidate drops it at once.
    await cache.invalidate("k")
    assert await cache.get_or_compute("k", CountingCompute(b"v3"), base_ttl_s=60) == b"v3"


async def test_cache_local_layer_entries_expire_after_local_ttl(
    redis_client: Redis, redis_prefix: str
) -> None:
    cache = _cache(redis_client, redis_prefix, local_ttl_s=0.1)
    await cache.get_or_compute("k", CountingCompute(b"v1"), base_ttl_s=60)
    await redis_client.delete(cache.value_key("k"))  # another replica's write, unannounced
    await asyncio.sleep(0.15)
    assert await cache.get_or_compute("k", CountingCompute(b"v2"), base_ttl_s=60) == b"v2"


async def test_cache_invalidate_on_one_replica_evicts_the_local_layer_of_another(
    replicas: list[Redis], redis_prefix: str
) -> None:
    writer = _cache(replicas[0], redis_prefix, local_ttl_s=30)
    reader = _cache(replicas[1], redis_prefix, local_ttl_s=30)
    await reader.start()
    try:
        assert await reader.wait_subscribed()
        assert await reader.get_or_compute("k", CountingCompute(b"v1"), base_ttl_s=60) == b"v1"

        await writer.invalidate("k")

        # The broadcast arrives within milliseconds; the local TTL is 30 s.
        assert await read_until(reader, "k", b"v2", within_s=2) == b"v2"
    finally:
        await reader.aclose()


async def test_cache_warm_loads_every_key_with_ttls_staggered_across_the_range(
    redis_client: Redis, redis_prefix: str
) -> None:
    # U(0, 1) fixed at 0.5: entry i of n lands mid-way in its own n-th of the range.
    cache = _cache(redis_client, redis_prefix, jitter_random=lambda: 0.5)

    async def broken() -> bytes:
        raise LookupError("gone")

    entries = [
        WarmEntry(f"item:{i}", CountingCompute(f"v{i}".encode()), base_ttl_s=1000)
        for i in range(20)
    ]
    stored = await cache.warm([*entries, WarmEntry("item:gone", broken, base_ttl_s=1000)])

    assert stored == 20
    ttls = [await redis_client.pttl(cache.value_key(f"item:{i}")) for i in range(20)]
    assert all(1_050_000 - 100 <= ttl <= 1_150_000 for ttl in ttls)
    # Stratified: entry i of 21 holds the i-th 21st of the range (the hottest expire first).
    slot_s = 100 / 21
    assert [round((ttl / 1000 - 1050) / slot_s - 0.5) for ttl in ttls] == list(range(20))
    assert await redis_client.exists(cache.value_key("item:gone")) == 0
    compute = CountingCompute(b"unused")
    assert await cache.get_or_compute("item:7", compute, base_ttl_s=1000) == b"v7"
    assert compute.runs == 0


async def test_cache_warm_leaves_cached_and_locked_keys_to_their_owners(
    redis_client: Redis, redis_prefix: str
) -> None:
    cache = _cache(redis_client, redis_prefix)
    await cache.get_or_compute("item:cached", CountingCompute(b"live"), base_ttl_s=1000)
    ttl_before = await redis_client.pttl(cache.value_key("item:cached"))
    holder = CountingCompute(b"holder", release=asyncio.Event())
    filling = asyncio.create_task(cache.get_or_compute("item:busy", holder, base_ttl_s=1000))
    await holder.started.wait()

    computes = {k: CountingCompute(b"warm") for k in ("item:cached", "item:busy", "item:cold")}
    stored = await cache.warm([WarmEntry(k, c, base_ttl_s=1000) for k, c in computes.items()])

    assert stored == 1
    assert [computes[k].runs for k in ("item:cached", "item:busy", "item:cold")] == [0, 0, 1]
    assert await redis_client.pttl(cache.value_key("item:cached")) <= ttl_before
    assert holder.release is not None
    holder.release.set()
    assert await filling == b"holder"
    for key, expected in (
        ("item:cached", b"live"),
        ("item:busy", b"holder"),
        ("item:cold", b"warm"),
    ):
        assert await cache.get_or_compute(key, CountingCompute(b"x"), base_ttl_s=1000) == expected


async def test_cache_warm_does_not_store_what_it_read_before_an_invalidation(
    redis_client: Redis, redis_prefix: str
) -> None:
    """A write committed (and invalidated) while the warm-up computed: its result is dropped."""
    cache = _cache(redis_client, redis_prefix)
    stale = CountingCompute(b"before-write", release=asyncio.Event())
    warming = asyncio.create_task(cache.warm([WarmEntry("item:1", stale, base_ttl_s=1000)]))
    await stale.started.wait()
    await cache.invalidate("item:1")
    assert stale.release is not None
    stale.release.set()
    assert await warming == 0
    assert await redis_client.exists(cache.value_key("item:1")) == 0
    fresh = CountingCompute(b"after-write")
    assert await cache.get_or_compute("item:1", fresh, base_ttl_s=1000) == b"after-write"


async def test_cache_early_recompute_runs_in_one_caller_while_others_keep_the_value(
    redis_client: Redis, redis_prefix: str
) -> None:
    """Every reader draws "recompute now": one takes the lock, the rest serve the value.

    The seed compute takes 0.1 s, so with rand = 1e-300 the XFetch term is 0.1 x 690 = 69 s,
    past the at most 66 s TTL: the formula fires for every reader.
    """
    cache = _cache(redis_client, redis_prefix, xfetch_random=lambda: 1e-300)
    seed = _cache(redis_client, redis_prefix, xfetch_random=lambda: 1.0)
    await seed.get_or_compute("k", CountingCompute(b"old", delay_s=0.1), base_ttl_s=60)
    fresh = CountingCompute(b"new", release=asyncio.Event())
    early_before = cache_counter("early_recomputes", "test")

    tasks = [
        asyncio.create_task(cache.get_or_compute("k", fresh, base_ttl_s=60)) for _ in range(50)
    ]
    await fresh.started.wait()
    pending: set[asyncio.Task[bytes]] = set(tasks)
    async with asyncio.timeout(10):  # while the one recompute is held open...
        while len(pending) > 1:
            _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
    # ...every other reader has answered with the cached value.
    assert [task.result() for task in tasks if task.done()] == [b"old"] * 49
    assert fresh.release is not None
    fresh.release.set()
    results = await asyncio.gather(*tasks)

    assert fresh.runs == 1
    assert cache_counter("early_recomputes", "test") - early_before == 1
    assert results.count(b"new") == 1
    assert await seed.get_or_compute("k", CountingCompute(b"x"), base_ttl_s=60) == b"new"


async def test_cache_reads_near_expiry_trigger_only_a_few_recomputes(
    redis_client: Redis, redis_prefix: str
) -> None:
    """Real random draws, 2 000 reads within the last 2 deltas before expiry: a handful."""
    clock_offset = 0.0
    cache = _cache(redis_client, redis_prefix, clock=lambda: time.time() + clock_offset)
    compute = CountingCompute(b"v", delay_s=0.02)
    await cache.get_or_compute("k", compute, base_ttl_s=100)
    raw = await redis_client.get(cache.value_key("k"))
    assert isinstance(raw, bytes)
    entry = decode_entry(raw)
    assert entry is not None
    # Jump to 2 deltas before expiry: P(early) = exp(-2) ~ 0.14 per read until one refreshes.
    clock_offset = entry.expiry - time.time() - 2 * entry.delta
    before = compute.runs
    for _ in range(20):
        await asyncio.gather(
            *(cache.get_or_compute("k", compute, base_ttl_s=100) for _ in range(100))
        )
    assert 1 <= compute.runs - before <= 3
