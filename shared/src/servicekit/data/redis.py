"""The Redis pool (redis-py asyncio, hiredis parser when installed)."""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis


def create_redis(url: str, *, timeout_s: float = 0.5, max_connections: int = 50) -> Redis:
    # Short socket timeouts: a slow Redis must degrade to the database path, not stall requests.
    # A blocking pool: past `max_connections` concurrent commands a caller waits (up to
    # timeout_s) for a free connection; the default pool raises MaxConnectionsError instead,
    # which under load turned cache hits into database reads and keyed writes into 503s.
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout_s,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        health_check_interval=30,
        retry_on_timeout=False,
    )
    return Redis.from_pool(pool)
