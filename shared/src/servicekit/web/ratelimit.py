"""A rate limiter for expensive or guessable endpoints (the token endpoint first of all).

GCRA (the generic cell rate algorithm): each key stores one number, its "theoretical arrival
time". A limit of `requests` per `period_s` with a `burst` lets `burst` requests through at once
and then one every `period_s / requests`; a refused request learns exactly when the next one
will pass, which becomes `Retry-After`.

Two backends with one interface: `RedisRateLimitBackend` (one Lua script, the clock is Redis'
`TIME`, so every replica shares one budget per key) and `MemoryRateLimitBackend` (per process,
bounded in size). The Redis backend falls back to a memory backend when Redis fails: a broken
cache must not lock every user out of the token endpoint, nor lift the limit entirely.

Use (auth's token endpoint; the keys say who is limited):

    limiter = RateLimiter(RateLimit(requests=10, period_s=60), backend=..., name="token")
    await limiter.enforce(f"ip:{client_ip(request)}", f"client:{client_id}")

`enforce` raises `RateLimitError` (a 429 `ProblemError` with `Retry-After`) when any key is over.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.requests import Request

from servicekit.core.problems import ProblemError, problem_type

log = logging.getLogger("servicekit.web.ratelimit")

_US = 1_000_000


@dataclass(frozen=True)
class RateLimit:
    """`requests` per `period_s` on average, at most `burst` (default `requests`) at once."""

    requests: int
    period_s: float
    burst: int | None = None

    def __post_init__(self) -> None:
        if self.requests < 1 or self.period_s <= 0 or (self.burst is not None and self.burst < 1):
            raise ValueError("a rate limit needs requests >= 1, period_s > 0 and burst >= 1")

    @property
    def interval_us(self) -> int:
        """Microseconds between two requests at the steady rate (GCRA's emission interval)."""
        return max(1, round(self.period_s * _US / self.requests))

    @property
    def tolerance_us(self) -> int:
        """How far ahead of now the arrival time may run (GCRA's tolerance): `burst` intervals."""
        return self.interval_us * (self.burst or self.requests)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after_s: float  # 0 when allowed


class RateLimitBackend(Protocol):
    async def hit(self, key: str, limit: RateLimit) -> Decision: ...


def _gcra(tat_us: int, now_us: int, limit: RateLimit) -> tuple[Decision, int]:
    """The decision and the new arrival time for one request at `now_us`."""
    new_tat = max(tat_us, now_us) + limit.interval_us
    earliest = new_tat - limit.tolerance_us
    if earliest > now_us:
        return Decision(False, (earliest - now_us) / _US), tat_us
    return Decision(True, 0.0), new_tat


class MemoryRateLimitBackend:
    """Per-process state for at most `max_keys` keys.

    When full, expired keys go first, then the least recently allowed ones, down to 90 %, so
    a flood of new keys (spoofed clients) costs one scan per `max_keys / 10` of them.
    """

    def __init__(
        self, *, max_keys: int = 100_000, clock_us: Callable[[], int] | None = None
    ) -> None:
        self.max_keys = max_keys
        self.clock_us = clock_us or (lambda: time.monotonic_ns() // 1000)
        self._tat: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._tat)

    async def hit(self, key: str, limit: RateLimit) -> Decision:
        now = self.clock_us()
        decision, tat = _gcra(self._tat.get(key, now), now, limit)
        if decision.allowed:
            # Re-inserted, so the dict's order is least recently allowed first.
            if self._tat.pop(key, None) is None and len(self._tat) >= self.max_keys:
                self._evict(now)
            self._tat[key] = tat
        return decision

    def _evict(self, now_us: int) -> None:
        for key in [k for k, tat in self._tat.items() if tat <= now_us]:
            del self._tat[key]
        keep = self.max_keys * 9 // 10
        while len(self._tat) > keep:
            del self._tat[next(iter(self._tat))]


# KEYS[1]: the key; ARGV: interval_us, tolerance_us. Returns {allowed, retry_after_us}.
_GCRA_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local earliest = new_tat - tolerance
if earliest > now then
  return {0, earliest - now}
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000))
return {1, 0}
"""


class RedisRateLimitBackend:
    """Shared state in Redis; every replica of a service counts against one budget per key."""

    def __init__(
        self, redis: Redis, *, prefix: str = "ratelimit:", fallback: RateLimitBackend | None = None
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.fallback = fallback if fallback is not None else MemoryRateLimitBackend()
        self._script = redis.register_script(_GCRA_LUA)

    async def hit(self, key: str, limit: RateLimit) -> Decision:
        try:
            allowed, retry_us = await self._script(
                keys=[self.prefix + key], args=[limit.interval_us, limit.tolerance_us]
            )
        except (RedisError, OSError):
            log.warning("rate limit store unavailable; counting in this process")
            return await self.fallback.hit(key, limit)
        return Decision(bool(allowed), int(retry_us) / _US)


class RateLimitError(ProblemError):
    """429 Too Many Requests, with `Retry-After` in whole seconds."""

    def __init__(self, retry_after_s: float) -> None:
        self.retry_after_s = max(1, math.ceil(retry_after_s))
        super().__init__(
            429,
            title="Too Many Requests",
            detail=f"Too many requests; retry after {self.retry_after_s} s.",
            type_=problem_type("rate-limited"),
            headers={"Retry-After": str(self.retry_after_s)},
        )


class RateLimiter:
    """One named limit applied per key; keys are hashed, so any caller input is a safe key."""

    def __init__(self, limit: RateLimit, *, backend: RateLimitBackend, name: str) -> None:
        self.limit = limit
        self.backend = backend
        self.name = name

    def _key(self, key: str) -> str:
        digest = hashlib.blake2b(key.encode(), digest_size=16).hexdigest()
        return f"{self.name}:{digest}"

    async def hit(self, key: str) -> Decision:
        return await self.backend.hit(self._key(key), self.limit)

    async def enforce(self, *keys: str) -> None:
        """Count one request against every key; raise `RateLimitError` if any key is over."""
        waits = [d.retry_after_s for d in [await self.hit(k) for k in keys] if not d.allowed]
        if waits:
            raise RateLimitError(max(waits))


def client_ip(request: Request) -> str:
    """The peer address as the server saw it. Behind an ingress, start uvicorn with
    `--proxy-headers --forwarded-allow-ips=<ingress addresses>` so this is the real client."""
    return request.client.host if request.client else "unknown"
