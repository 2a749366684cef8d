"""The Redis pool (redis-py asyncio, hiredis parser when installed)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from redis.asyncio import Redis


def create_redis(url: str, *, timeout_s: float = 0.5, max_connections: int = 50) -> Redis:
    # Short socket timeouts: a slow Redis must degrade to the database path, not stall requests.
    return Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        max_connections=max_connections,
        health_check_interval=30,
        retry_on_timeout=False,
    )


def get_redis(request: Request) -> Redis:
    redis: Redis | None = request.app.state.resources.redis
    if redis is None:
        raise RuntimeError("this service was built without Redis")
    return redis


RedisDep = Annotated[Redis, Depends(get_redis)]
