"""The GCRA limiter in one process: bursts, steady rate, Retry-After, bounded memory."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, Request

from servicekit.core.settings import ServiceSettings
from servicekit.web.app import create_service_app
from servicekit.web.ratelimit import (
    MemoryRateLimitBackend,
    RateLimit,
    RateLimiter,
    RateLimitError,
    client_ip,
)


class Clock:
    def __init__(self) -> None:
        self.now_us = 1_000_000_000

    def __call__(self) -> int:
        return self.now_us

    def advance(self, seconds: float) -> None:
        self.now_us += round(seconds * 1_000_000)


def _limiter(limit: RateLimit, clock: Clock, **kwargs: int) -> RateLimiter:
    return RateLimiter(
        limit, backend=MemoryRateLimitBackend(clock_us=clock, **kwargs), name="token"
    )


async def test_a_burst_passes_and_the_next_request_waits_one_interval() -> None:
    clock = Clock()
    limiter = _limiter(RateLimit(requests=6, period_s=60, burst=3), clock)
    assert [(await limiter.hit("ip:1")).allowed for _ in range(3)] == [True] * 3
    refused = await limiter.hit("ip:1")
    assert not refused.allowed
    assert refused.retry_after_s == pytest.approx(10.0)  # 60 s / 6 requests
    clock.advance(9.9)
    assert not (await limiter.hit("ip:1")).allowed
    clock.advance(0.1)
    assert (await limiter.hit("ip:1")).allowed
    assert not (await limiter.hit("ip:1")).allowed


async def test_keys_have_separate_budgets() -> None:
    limiter = _limiter(RateLimit(requests=1, period_s=60), Clock())
    assert (await limiter.hit("ip:1")).allowed
    assert not (await limiter.hit("ip:1")).allowed
    assert (await limiter.hit("ip:2")).allowed


async def test_enforce_raises_a_429_problem_with_whole_seconds_retry_after() -> None:
    clock = Clock()
    limiter = _limiter(RateLimit(requests=2, period_s=3, burst=1), clock)
    await limiter.enforce("ip:1", "client:a")
    with pytest.raises(RateLimitError) as info:
        await limiter.enforce("ip:9", "client:a")  # a new IP, the same client
    assert info.value.status == 429
    assert info.value.headers == {"Retry-After": "2"}  # 1.5 s, rounded up
    assert info.value.type.endswith("/rate-limited")


async def test_memory_stays_bounded_under_a_flood_of_new_keys() -> None:
    clock = Clock()
    backend = MemoryRateLimitBackend(clock_us=clock, max_keys=100)
    limiter = RateLimiter(RateLimit(requests=1, period_s=60), backend=backend, name="t")
    for i in range(1000):
        await limiter.hit(f"ip:{i}")
    assert len(backend) <= 100
    # The most recent key is still limited: eviction takes the least recently seen first.
    assert not (await limiter.hit("ip:999")).allowed


def test_a_rate_limit_needs_positive_numbers() -> None:
    for bad in ({"requests": 0, "period_s": 1}, {"requests": 1, "period_s": 0}):
        with pytest.raises(ValueError, match="rate limit"):
            RateLimit(**bad)


async def test_a_limited_route_answers_429_problem_json_with_retry_after() -> None:
    limiter = _limiter(RateLimit(requests=1, period_s=30), Clock())
    router = APIRouter()

    @router.post("/oauth/token")
    async def token(request: Request) -> dict[str, str]:
        await limiter.enforce(f"ip:{client_ip(request)}")
        return {"access_token": "t"}

    app = create_service_app(
        settings=ServiceSettings(service_name="t"), title="t", version="0", routers=[router]
    )
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        first = await client.post("/oauth/token")
        second = await client.post("/oauth/token")
    assert first.status_code == 200
    assert first.headers["cache-control"] == "no-store"
    assert second.status_code == 429
    assert second.headers["content-type"] == "application/problem+json"
    assert second.headers["retry-after"] == "30"
    assert second.json()["title"] == "Too Many Requests"
