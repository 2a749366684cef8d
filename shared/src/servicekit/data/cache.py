"""Read-through Redis cache of final response bytes, built to hold under stampedes and outages.

`RedisCache.get_or_compute(key, compute, base_ttl_s=...)` returns the cached bytes or runs
`compute` and stores its result: one GET per hit, jittered TTLs, XFetch early recompute, a
`SET NX` lock per miss with bounded waiters, a breaker when Redis fails (callers then compute;
no Redis error leaves this module), and an optional in-process layer kept fresh by pub/sub.
The decisions and their numbers: docs/adr/0002-cache-and-idempotency.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import random
import struct
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from redis.asyncio import Redis

from servicekit.core.metrics import registry
from servicekit.data.redisops import REDIS_ERRORS, Breaker, LuaScript, deadline

log = logging.getLogger("servicekit.data.cache")

Compute = Callable[[], Awaitable[bytes]]

JITTER_MIN = 0.05
JITTER_MAX = 0.15

# On the registry `/metrics` renders (servicekit.core.metrics), not prometheus-client's default.
_HITS = registry.counter(
    "servicekit_cache_hits_total",
    "Reads answered from the cache (layer: local process or redis)",
    ["cache", "layer"],
)
_MISSES = registry.counter(
    "servicekit_cache_misses_total", "Reads that found no cached value", ["cache"]
)
_EARLY = registry.counter(
    "servicekit_cache_early_recomputes_total", "XFetch recomputes before expiry", ["cache"]
)
_LOCK_WAITS = registry.counter(
    "servicekit_cache_lock_waits_total",
    "Misses that waited for another caller's compute",
    ["cache"],
)
_LOCK_TIMEOUTS = registry.counter(
    "servicekit_cache_lock_timeouts_total",
    "Waits that hit the bound and computed for themselves",
    ["cache"],
)
_ERRORS = registry.counter(
    "servicekit_cache_errors_total", "Redis failures or timeouts absorbed by the cache", ["cache"]
)

# format byte, expiry (epoch seconds, wall clock: shared by every replica), delta (seconds)
_HEADER = struct.Struct("!Bdd")
_FORMAT = 1

# Re-read the value, and take the lock only when there is none: one round trip per poll.
# Returns {1, value} for a value, {2} when this token now holds the lock, {0} otherwise.
_GET_OR_LOCK = LuaScript(
    """
local v = redis.call('GET', KEYS[1])
if v then return {1, v} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {2} end
return {0}
"""
)
# Store and release, only while the caller still owns the lock (compare-and-set).
_STORE_AND_UNLOCK = LuaScript(
    """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('DEL', KEYS[2])
return 1
"""
)
# Compare-and-delete: never removes a lock another holder took after ours expired.
_UNLOCK = LuaScript(
    """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
)
# Drop the value and any lock (a compute in flight then cannot store), and tell the replicas.
_INVALIDATE = LuaScript(
    """
redis.call('DEL', KEYS[1], KEYS[2])
if ARGV[1] ~= '' then redis.call('PUBLISH', ARGV[1], KEYS[1]) end
return 1
"""
)


def jittered_ttl_s(base_ttl_s: float, u: float) -> float:
    """base x (1 + jitter) with jitter = 0.05 + 0.10 u, for u in [0, 1]."""
    return base_ttl_s * (1.0 + JITTER_MIN + (JITTER_MAX - JITTER_MIN) * u)


def _ttl_ms(base_ttl_s: float, ttl_s: float) -> int:
    # Whole milliseconds for PX, kept inside [base x 1.05, base x 1.15] despite rounding.
    low = math.ceil(base_ttl_s * (1.0 + JITTER_MIN) * 1000)
    high = math.floor(base_ttl_s * (1.0 + JITTER_MAX) * 1000)
    return max(low, min(high, round(ttl_s * 1000)))


def xfetch_fires(*, now: float, expiry: float, delta: float, beta: float, rand: float) -> bool:
    """XFetch: recompute early when now - delta * beta * ln(rand) >= expiry (rand in (0, 1])."""
    if rand <= 0.0:
        return True  # ln(0) is -inf: the left side is +inf
    return now - delta * beta * math.log(rand) >= expiry


@dataclass(frozen=True, slots=True)
class CacheEntry:
    value: bytes
    expiry: float
    delta: float


def encode_entry(entry: CacheEntry) -> bytes:
    return _HEADER.pack(_FORMAT, entry.expiry, entry.delta) + entry.value


def decode_entry(raw: bytes) -> CacheEntry | None:
    """The entry, or None for bytes this version did not write (treated as a miss)."""
    if len(raw) < _HEADER.size or raw[0] != _FORMAT:
        return None
    _, expiry, delta = _HEADER.unpack_from(raw)
    return CacheEntry(raw[_HEADER.size :], expiry, delta)


def pack_response(body: bytes, headers: Mapping[str, str] | None = None) -> bytes:
    """Response headers (such as ETag) and body as one cacheable value, HTTP/1-style:
    `Name: value\r\n` lines, a blank line, the body. Header values must not hold CR/LF."""
    lines = [f"{name}: {value}\r\n".encode("latin-1") for name, value in (headers or {}).items()]
    return b"".join(lines) + b"\r\n" + body


def unpack_response(data: bytes) -> tuple[dict[str, str], bytes]:
    """The headers and body that `pack_response` packed."""
    if data.startswith(b"\r\n"):
        return {}, data[2:]
    head, _, body = data.partition(b"\r\n\r\n")
    headers = {}
    for line in head.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(": ")
        headers[name] = value
    return headers, body


@dataclass(frozen=True, slots=True)
class WarmEntry:
    key: str
    compute: Compute
    base_ttl_s: float


class _LocalLayer:
    """A TTL'd LRU of cached bytes in this process (monotonic clock)."""

    __slots__ = ("_data", "_max_entries", "_ttl_s")

    def __init__(self, ttl_s: float, max_entries: int) -> None:
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._data: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def get(self, key: str) -> bytes | None:
        item = self._data.get(key)
        if item is None:
            return None
        if time.monotonic() >= item[0]:
            del self._data[key]
            return None
        self._data.move_to_end(key)
        return item[1]

    def put(self, key: str, value: bytes, max_age_s: float) -> None:
        age = min(self._ttl_s, max_age_s)
        if age <= 0:
            return
        self._data[key] = (time.monotonic() + age, value)
        self._data.move_to_end(key)
        if len(self._data) > self._max_entries:
            self._data.popitem(last=False)

    def discard(self, key: str) -> None:
        self._data.pop(key, None)

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


def _default_xfetch_random() -> float:
    return 1.0 - random.random()  # noqa: S311 - (0, 1]; a scheduling draw, not a secret


class RedisCache:
    """Read-through cache of response bytes in Redis (see the module docstring).

    `redis` should be built by `servicekit.data.redis.create_redis` (short socket timeouts, a
    blocking pool; bytes replies, never `decode_responses=True`). Keys carry everything that
    changes the answer, the tenant first of all (`item:<tenant>:<id>`). `clock`,
    `xfetch_random` and `jitter_random` are injectable for tests. With the local layer, call
    `start()` once (lifespan) and `aclose()` at shutdown.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        name: str = "default",
        namespace: str = "cache:",
        lock_ttl_s: float = 2.0,
        wait_timeout_s: float = 0.5,
        poll_initial_s: float = 0.005,
        poll_max_s: float = 0.05,
        beta: float = 1.0,
        op_timeout_s: float | None = 0.25,
        breaker_cooldown_s: float = 1.0,
        local_ttl_s: float = 0.0,
        local_max_entries: int = 4096,
        broadcast_invalidations: bool = True,
        clock: Callable[[], float] = time.time,
        xfetch_random: Callable[[], float] = _default_xfetch_random,
        jitter_random: Callable[[], float] = random.random,
    ) -> None:
        if wait_timeout_s <= 0 or lock_ttl_s <= 0 or poll_initial_s <= 0:
            raise ValueError("lock_ttl_s, wait_timeout_s and poll_initial_s must be positive")
        self._redis = redis
        self._values = namespace + "val:"
        self._locks = namespace + "lock:"
        self._lock_ttl_ms = max(1, round(lock_ttl_s * 1000))
        self._wait_timeout_s = wait_timeout_s
        self._poll_initial_s = poll_initial_s
        self._poll_max_s = max(poll_max_s, poll_initial_s)
        self._beta = beta
        self._op_timeout_s = op_timeout_s
        self._breaker = Breaker(breaker_cooldown_s)
        self._local = _LocalLayer(local_ttl_s, local_max_entries) if local_ttl_s > 0 else None
        self._channel = f"{namespace}invalidations" if broadcast_invalidations else ""
        self._clock = clock
        self._xfetch_random = xfetch_random
        self._jitter_random = jitter_random
        # Bumped by every invalidation this process sees; a compute or read that started
        # before one must not fill the local layer with what it got.
        self._epoch = 0
        # Invalidations Redis did not take (it was down): retried before the next Redis read.
        self._pending_invalidations: set[str] = set()
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._hits_local = _HITS.labels(name, "local")
        self._hits_redis = _HITS.labels(name, "redis")
        self._misses = _MISSES.labels(name)
        self._early = _EARLY.labels(name)
        self._lock_waits = _LOCK_WAITS.labels(name)
        self._lock_timeouts = _LOCK_TIMEOUTS.labels(name)
        self._errors = _ERRORS.labels(name)

    # -- life cycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe to other replicas' invalidations (only needed with the local layer)."""
        if self._local is not None and self._channel and self._listener is None:
            self._listener = asyncio.create_task(self._listen(), name="cache-invalidations")

    async def aclose(self) -> None:
        task, self._listener = self._listener, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def wait_subscribed(self, timeout_s: float = 5.0) -> bool:
        """True once the invalidation subscription is live (for startup checks and tests)."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._subscribed.wait()
        except TimeoutError:
            return False
        return True

    # -- reads --------------------------------------------------------------------------

    def jittered_ttl_s(self, base_ttl_s: float) -> float:
        return jittered_ttl_s(base_ttl_s, self._jitter_random())

    def value_key(self, key: str) -> str:
        """Where `key`'s value lives: `<namespace>val:<key>` (locks: `<namespace>lock:<key>`)."""
        return self._values + key

    def lock_key(self, value_key: str) -> str:
        return self._locks + value_key[len(self._values) :]

    def get_local(self, key: str) -> bytes | None:
        """The value of `key` in the in-process layer, or None: no I/O, nothing computed.

        For a caller's own fast path (answering before any routing when the value is at
        hand); a None sends it to `get_or_compute`. Counted as a local hit when found.
        """
        local = self._local
        if local is None:
            return None
        value = local.get(self._values + key)
        if value is not None:
            self._hits_local.inc()
        return value

    async def get_or_compute(self, key: str, compute: Compute, *, base_ttl_s: float) -> bytes:
        """The cached bytes for `key`, or `compute()`'s result (stored for the jittered TTL).

        Exceptions from `compute` propagate (and nothing is stored); Redis failures never do.
        """
        full = self._values + key
        local = self._local
        if local is not None:
            value = local.get(full)
            if value is not None:
                self._hits_local.inc()
                return value
        if self._breaker.is_open():
            self._errors.inc()
            return await compute()
        epoch = self._epoch
        try:
            async with deadline(self._op_timeout_s):
                if self._pending_invalidations:
                    await self._flush_pending_invalidations()
                raw = await self._redis.get(full)
        except REDIS_ERRORS:
            self._failed("get")
            return await compute()
        if isinstance(raw, bytes):
            entry = decode_entry(raw)
            if entry is not None:
                if xfetch_fires(
                    now=self._clock(),
                    expiry=entry.expiry,
                    delta=entry.delta,
                    beta=self._beta,
                    rand=self._xfetch_random(),
                ):
                    fresh = await self._recompute_early(full, compute, base_ttl_s, epoch)
                    if fresh is not None:
                        return fresh
                self._hits_redis.inc()
                self._fill_local(full, entry, epoch)
                return entry.value
        self._misses.inc()
        return await self._fill(full, compute, base_ttl_s, epoch)

    async def _recompute_early(
        self, full: str, compute: Compute, base_ttl_s: float, epoch: int
    ) -> bytes | None:
        """Recompute before expiry if no one else is; None means keep the cached value."""
        token = os.urandom(12).hex()
        try:
            async with deadline(self._op_timeout_s):
                taken = await self._redis.set(
                    self.lock_key(full), token, nx=True, px=self._lock_ttl_ms
                )
        except REDIS_ERRORS:
            self._failed("early lock")
            return None
        if not taken:
            return None
        self._early.inc()
        return await self._compute_as_holder(full, token, compute, base_ttl_s, epoch)

    async def _fill(self, full: str, compute: Compute, base_ttl_s: float, epoch: int) -> bytes:
        """Miss: take the lock and compute, or wait (bounded) for the holder's value."""
        lock = self.lock_key(full)
        token = os.urandom(12).hex()
        started = time.monotonic()
        delay = self._poll_initial_s
        waited = False
        while True:
            try:
                async with deadline(self._op_timeout_s):
                    reply = await _GET_OR_LOCK(
                        self._redis, (full, lock), (token, self._lock_ttl_ms)
                    )
            except REDIS_ERRORS:
                self._failed("get or lock")
                return await compute()
            if reply[0] == 1:
                entry = decode_entry(reply[1])
                if entry is not None:
                    self._hits_redis.inc()
                    self._fill_local(full, entry, epoch)
                    return entry.value
                # Bytes of another format under our key: replace them as a holder would, but
                # never hold up the caller on it.
                return await compute()
            if reply[0] == 2:
                return await self._compute_as_holder(full, token, compute, base_ttl_s, epoch)
            if not waited:
                waited = True
                self._lock_waits.inc()
            remaining = self._wait_timeout_s - (time.monotonic() - started)
            if remaining <= 0:
                self._lock_timeouts.inc()
                return await compute()
            await asyncio.sleep(min(delay, remaining))
            delay = min(delay * 2, self._poll_max_s)

    async def _compute_as_holder(
        self, full: str, token: str, compute: Compute, base_ttl_s: float, epoch: int
    ) -> bytes:
        lock = self.lock_key(full)
        started = time.perf_counter()
        try:
            value = await compute()
        except BaseException:
            # Let the next caller take over now rather than after the lock TTL.
            with contextlib.suppress(*REDIS_ERRORS):
                async with deadline(self._op_timeout_s):
                    await _UNLOCK(self._redis, (lock,), (token,))
            raise
        delta = time.perf_counter() - started
        ttl_s = self.jittered_ttl_s(base_ttl_s)
        entry = CacheEntry(value, self._clock() + ttl_s, delta)
        try:
            async with deadline(self._op_timeout_s):
                await _STORE_AND_UNLOCK(
                    self._redis,
                    (full, lock),
                    (token, encode_entry(entry), _ttl_ms(base_ttl_s, ttl_s)),
                )
        except REDIS_ERRORS:
            self._failed("store")
        self._fill_local(full, entry, epoch)
        return value

    # -- writes -------------------------------------------------------------------------

    async def invalidate(self, key: str) -> bool:
        """Drop `key` here, in Redis and (by broadcast) in other replicas' local layers.

        Call it after the write it reflects has committed. Returns False when Redis did not
        take it (or failed moments ago: the breaker is open); the invalidation is then retried
        before this process's next Redis read.
        """
        full = self._values + key
        self._evict_local(full)
        try:
            if self._breaker.is_open():
                # Redis just failed: queue it rather than wait a deadline per key (a confirm
                # may invalidate a hundred items; a slow Redis must not cost a hundred
                # deadlines).
                self._errors.inc()
                self._pending_invalidations.add(full)
                return False
            try:
                async with deadline(self._op_timeout_s):
                    await _INVALIDATE(self._redis, (full, self.lock_key(full)), (self._channel,))
            except REDIS_ERRORS:
                self._failed("invalidate")
                self._pending_invalidations.add(full)
                return False
            return True
        finally:
            # Again once the DEL is done: a read in between got the old value from Redis and
            # may have put it into the local layer; the new epoch also refuses any such fill
            # still in flight (its epoch is older), so no stale entry outlives this call.
            self._evict_local(full)

    def _evict_local(self, full: str) -> None:
        self._epoch += 1
        if self._local is not None:
            self._local.discard(full)

    async def _flush_pending_invalidations(self) -> None:
        pending = list(self._pending_invalidations)
        for full in pending:
            await _INVALIDATE(self._redis, (full, self.lock_key(full)), (self._channel,))
            self._pending_invalidations.discard(full)

    async def warm(self, entries: Sequence[WarmEntry], *, concurrency: int = 8) -> int:
        """Compute and store `entries` (hottest first); returns how many were stored.

        TTLs are staggered: entry i of n gets jitter fraction (i + U(0, 1)) / n, so the
        warmed keys expire spread evenly across [base x 1.05, base x 1.15] rather than in a
        clump. Each entry goes through the miss protocol: a key that already holds a value,
        or whose lock another caller holds, is left alone; otherwise the lock is taken before
        `compute` runs and the store happens only while it is still held, so a write whose
        invalidation lands during the warm-up is never overwritten by what was read before
        it. `compute` must read its source after it is called (not from a snapshot taken
        before), for the same reason. An entry whose compute fails is skipped and logged.
        """
        count = len(entries)
        stored = 0
        gate = asyncio.Semaphore(max(1, concurrency))

        async def load(index: int, item: WarmEntry) -> None:
            nonlocal stored
            full = self._values + item.key
            lock = self.lock_key(full)
            token = os.urandom(12).hex()
            async with gate:
                try:
                    async with deadline(self._op_timeout_s):
                        reply = await _GET_OR_LOCK(
                            self._redis, (full, lock), (token, self._lock_ttl_ms)
                        )
                except REDIS_ERRORS:
                    self._failed("warm")
                    return
                if reply[0] != 2:
                    return  # already cached, or being computed by a reader right now
                started = time.perf_counter()
                try:
                    value = await item.compute()
                except Exception:  # noqa: BLE001 - one bad entry must not stop the warm-up
                    log.warning("cache warm compute failed", extra={"cache_key": item.key})
                    with contextlib.suppress(*REDIS_ERRORS):
                        async with deadline(self._op_timeout_s):
                            await _UNLOCK(self._redis, (lock,), (token,))
                    return
                delta = time.perf_counter() - started
                fraction = (index + self._jitter_random()) / count
                ttl_s = jittered_ttl_s(item.base_ttl_s, min(1.0, fraction))
                entry = CacheEntry(value, self._clock() + ttl_s, delta)
                try:
                    async with deadline(self._op_timeout_s):
                        done = await _STORE_AND_UNLOCK(
                            self._redis,
                            (full, lock),
                            (token, encode_entry(entry), _ttl_ms(item.base_ttl_s, ttl_s)),
                        )
                except REDIS_ERRORS:
                    self._failed("warm")
                    return
                if done:
                    stored += 1

        await asyncio.gather(*(load(i, e) for i, e in enumerate(entries)))
        return stored

    # -- internals ----------------------------------------------------------------------

    def _fill_local(self, full: str, entry: CacheEntry, epoch: int) -> None:
        if self._local is not None and epoch == self._epoch:
            self._local.put(full, entry.value, entry.expiry - self._clock())

    def _failed(self, operation: str) -> None:
        self._errors.inc()
        self._breaker.trip()
        log.warning("redis unavailable to the cache", extra={"operation": operation})

    def _evict_all_local(self) -> None:
        self._epoch += 1
        if self._local is not None:
            self._local.clear()

    async def _listen(self) -> None:
        """Evict what other replicas invalidate; on any gap in the subscription, evict all.

        redis-py re-subscribes by itself after a reconnect; the server's "subscribe"
        confirmation is how a gap (and the messages lost in it) shows, so it clears the layer.
        """
        backoff = 0.1
        while True:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.subscribe(self._channel)
                backoff = 0.1
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    if message.get("type") == "subscribe":
                        self._evict_all_local()
                        if self._pending_invalidations:
                            await self._flush_pending_invalidations()
                        self._subscribed.set()
                    elif message.get("type") == "message":
                        data = message["data"]
                        full = data.decode() if isinstance(data, bytes) else str(data)
                        self._epoch += 1
                        if self._local is not None:
                            self._local.discard(full)
            except REDIS_ERRORS:
                self._subscribed.clear()
                self._evict_all_local()
                log.warning("cache invalidation subscription lost; retrying")
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
            finally:
                with contextlib.suppress(*REDIS_ERRORS):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py: untyped
