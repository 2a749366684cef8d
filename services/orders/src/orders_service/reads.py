"""Sessions for read-only work: one statement, no BEGIN and no COMMIT or ROLLBACK around it.

A request session opens a transaction lazily (BEGIN, a round trip), and ends it with COMMIT
(another) and the pool's reset (a ROLLBACK). A read of one statement is consistent on its
own, so the hot reads (an item, a page of items) run on a connection in autocommit mode:
one round trip per query instead of three. Anything that writes, or reads with several
statements that must agree, keeps the transactional request session (servicekit.data.db).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession


@asynccontextmanager
async def read_only_connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A pooled connection in autocommit mode, for Core reads of one statement each."""
    async with engine.connect() as connection:
        # Autocommit: the driver starts no transaction, so nothing to end either.
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        yield connection


@asynccontextmanager
async def read_only_session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with read_only_connection(engine) as connection:
        session = AsyncSession(bind=connection, expire_on_commit=False, autoflush=False)
        try:
            yield session
        finally:
            await session.close()
