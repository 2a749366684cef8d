"""Async SQLAlchemy engine and the request-scoped session (the only place that commits)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

from servicekit.core.settings import ServiceSettings


def create_engine(settings: ServiceSettings, *, application_name: str | None = None) -> AsyncEngine:
    """One pool per process; application_name lets operators find its connections."""
    return create_async_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=settings.database_pool_timeout_s,
        # Off by default: a ping is one more round trip on every checkout. A connection that
        # died with the server fails its request with a 503 (servicekit.core.unavailable) and
        # SQLAlchemy then discards the whole stale pool; recycling bounds connection age.
        pool_pre_ping=settings.database_pool_pre_ping,
        pool_recycle=settings.database_pool_recycle_s,
        # Errors and tracebacks never carry SQL parameters (emails, hashes, tokens).
        hide_parameters=True,
        connect_args={
            "server_settings": {"application_name": application_name or settings.service_name},
            "timeout": 5,
        },
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # Objects stay readable after commit: responses are built from them after the commit.
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


_AFTER_COMMIT = "servicekit.after_commit"
AfterCommit = Callable[[], Awaitable[None]]


def after_commit(session: AsyncSession | Session, callback: AfterCommit) -> None:
    """Run `callback` once the request's transaction has committed (never if it rolls back).

    Cache invalidation belongs here: invalidating before the commit lets a concurrent reader
    cache the old row again in the window before the new one becomes visible.
    """
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Yield a session for one request; commit when the handler returns, roll back on error."""
    maker: async_sessionmaker[AsyncSession] = request.app.state.resources.sessionmaker
    async with maker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
        for callback in session.info.pop(_AFTER_COMMIT, []):
            await callback()


# scope="function": the commit (and the after-commit callbacks) happen when the handler returns
# and before the response is sent. With the default ("request") FastAPI would send a 201 first
# and commit afterwards, so a failed commit would follow a success answer, and a client's next
# request could miss its own write or read a cache entry not yet invalidated.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
