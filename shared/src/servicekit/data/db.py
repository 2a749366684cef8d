"""Async SQLAlchemy engine and the request-scoped session (the only place that commits)."""

from __future__ import annotations

import logging
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

from servicekit.core.problems import ProblemError, problem_type
from servicekit.core.settings import ServiceSettings
from servicekit.core.unavailable import dependency_unavailable
from servicekit.data.fair_pool import FairAsyncAdaptedQueuePool

log = logging.getLogger("servicekit.data.db")


def create_engine(settings: ServiceSettings, *, application_name: str | None = None) -> AsyncEngine:
    """One pool per process; application_name lets operators find its connections."""
    return create_async_engine(
        settings.database_url,
        # Waiters get connections in the order they asked (see servicekit.data.fair_pool).
        poolclass=FairAsyncAdaptedQueuePool,
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
    """Run `callback` once the request's transaction has committed, or may have (the COMMIT's
    reply was lost: CommitOutcomeUnknownError); never when it is known to have rolled back.

    Cache invalidation belongs here: invalidating before the commit lets a concurrent reader
    cache the old row again in the window before the new one becomes visible. A callback must
    be harmless for a change that did not happen (an invalidation is: the next read reloads),
    because after a lost reply a stale cache would be served where a change did apply.
    Reactions that must happen exactly when the change did go through the outbox instead.
    """
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


class CommitOutcomeUnknownError(ProblemError):
    """The connection failed while the COMMIT was in flight: it may have applied or not.

    The server may have committed and its reply been lost (a failover, a network cut), so
    this must not read as "nothing was written" (dependency-unavailable). A retry is safe for
    a request with an Idempotency-Key: a keyed write records its key in its own transaction,
    so the retry finds it and answers the first outcome instead of writing again.
    """

    def __init__(self) -> None:
        super().__init__(
            503,
            title="Commit outcome unknown",
            detail="The database connection was lost while committing this request: its "
            "changes may or may not have been applied. Retry it with the same Idempotency-Key "
            "to get its outcome; without a key, check the current state before retrying.",
            type_=problem_type("commit-outcome-unknown"),
            headers={"Retry-After": "1"},
        )


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Yield a session for one request; commit when the handler returns, roll back on error.

    A connection lost during the COMMIT itself answers 503 commit-outcome-unknown (see
    CommitOutcomeUnknownError); any earlier failure rolled back and is answered as before.
    """
    maker: async_sessionmaker[AsyncSession] = request.app.state.resources.sessionmaker
    async with maker() as session:
        try:
            yield session
            # Pending changes are flushed apart from the COMMIT, so that a failure while
            # flushing (nothing committed) is never taken for a lost COMMIT reply.
            if session.new or session.dirty or session.deleted:
                await session.flush()
        except BaseException:
            await session.rollback()
            raise
        try:
            await session.commit()
        except BaseException as exc:
            await session.rollback()
            if isinstance(exc, Exception) and dependency_unavailable(exc):
                # The error's type only: no SQL, no parameters (the client gets a problem).
                log.warning("commit outcome unknown", extra={"error": type(exc).__name__})
                # It may have applied: what reacts to a commit (invalidations) runs too.
                await _run_after_commit(session)
                raise CommitOutcomeUnknownError from exc
            raise
        await _run_after_commit(session)


async def _run_after_commit(session: AsyncSession) -> None:
    for callback in session.info.pop(_AFTER_COMMIT, []):
        await callback()


# scope="function": the commit (and the after-commit callbacks) happen when the handler returns
# and before the response is sent. With the default ("request") FastAPI would send a 201 first
# and commit afterwards, so a failed commit would follow a success answer, and a client's next
# request could miss its own write or read a cache entry not yet invalidated.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
