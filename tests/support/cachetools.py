"""Helpers for the cache tests: counting computes and reading the cache's counters."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from servicekit.core.metrics import registry
from servicekit.data.cache import RedisCache


@dataclass
class CountingCompute:
    """An async compute that returns `value`, counts its runs and can be held open."""

    value: bytes = b"v"
    delay_s: float = 0.0
    runs: int = 0
    release: asyncio.Event | None = None
    started: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self) -> bytes:
        self.runs += 1
        self.started.set()
        if self.release is not None:
            await self.release.wait()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return self.value


def cache_counter(metric: str, cache: str, **labels: str) -> float:
    """Current value of `servicekit_cache_<metric>_total` for cache `cache`."""
    value = registry.registry.get_sample_value(
        f"servicekit_cache_{metric}_total", {"cache": cache, **labels}
    )
    return value or 0.0


async def read_until(cache: RedisCache, key: str, expected: bytes, *, within_s: float) -> bytes:
    """Read `key` until it answers `expected` or `within_s` passes; the last answer."""
    compute = CountingCompute(expected)
    deadline = time.monotonic() + within_s
    while True:
        value = await cache.get_or_compute(key, compute, base_ttl_s=60)
        if value == expected or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.005)
