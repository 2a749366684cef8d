"""Which exceptions mean "a dependency is down or not ready", not "this code is wrong"."""

from __future__ import annotations

import asyncpg
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

# SQLSTATEs of a database that is reachable but not ready for this service: not migrated
# (undefined table), missing database, starting up / shutting down, too many connections.
_NOT_READY_SQLSTATES = frozenset({"42P01", "3D000", "57P01", "57P02", "57P03", "53300"})
_UNAVAILABLE = (
    OSError,  # refused or reset connections
    TimeoutError,
    PoolTimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    RedisConnectionError,
    RedisTimeoutError,
)


def dependency_unavailable(exc: BaseException) -> bool:
    """True when `exc` comes from PostgreSQL or Redis being unreachable or not ready.

    Such a request deserves 503 + Retry-After (the client may retry; nothing was written:
    the request's transaction rolled back), not a 500 that reads as a bug. A connection lost
    during the COMMIT itself is answered apart, as an unknown outcome (servicekit.data.db).
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _UNAVAILABLE):
            return True
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if getattr(current, "sqlstate", None) in _NOT_READY_SQLSTATES:
            return True
        if isinstance(current, DBAPIError) and current.orig is not None:
            current = current.orig
            continue
        current = current.__cause__ or current.__context__
    return False
