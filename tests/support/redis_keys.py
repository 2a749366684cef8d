"""Deleting what a test wrote to the shared Redis: by its own prefix, never FLUSHDB."""

from __future__ import annotations

import redis
from redis.asyncio import Redis


async def delete_prefix(client: Redis, prefix: str) -> None:
    keys = [key async for key in client.scan_iter(match=prefix + "*", count=1000)]
    if keys:
        await client.delete(*keys)


def delete_prefix_at(redis_url: str, prefix: str) -> None:
    """`delete_prefix` from synchronous code (a session fixture's teardown)."""
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
