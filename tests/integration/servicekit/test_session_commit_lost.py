"""A COMMIT whose reply is lost answers 503 commit-outcome-unknown, not a dropped connection.

The database connection goes through a proxy that forwards one COMMIT, swallows the server's
reply (the transaction did commit) and closes the connection: the request session cannot know
the outcome, so neither may its answer claim one. A COMMIT the server refuses (a deferred
constraint) has a known outcome, nothing written, and keeps its ordinary answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import asyncpg
import pytest
from fastapi import APIRouter, Request
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from servicekit.core.problems import PROBLEM_CONTENT_TYPE, problem_type
from servicekit.core.settings import ServiceSettings
from servicekit.data.db import SessionDep, after_commit, get_session
from servicekit.web.app import create_service_app
from servicekit.web.fastpath import Answer, fast_answer
from tests.support.backends import Backends, asyncpg_dsn, create_database, drop_database
from tests.support.pgproxy import CommitReplyDropper, commit_dropper_for

request_session = asynccontextmanager(get_session)


@pytest.fixture
async def database(backends: Backends) -> AsyncIterator[str]:
    url = await create_database(backends.postgres_url, "test_commit_lost")
    conn = await asyncpg.connect(asyncpg_dsn(url))
    await conn.execute(
        "CREATE TABLE notes (body text NOT NULL,"
        " CONSTRAINT one_each UNIQUE (body) DEFERRABLE INITIALLY DEFERRED)"
    )
    await conn.close()
    yield url
    await drop_database(url)


@pytest.fixture
def dropper(database: str) -> Iterator[CommitReplyDropper]:
    with commit_dropper_for(database) as proxy:
        yield proxy


async def _notes(database: str) -> list[str]:
    conn = await asyncpg.connect(asyncpg_dsn(database))
    try:
        return [r["body"] for r in await conn.fetch("SELECT body FROM notes ORDER BY body")]
    finally:
        await conn.close()


async def test_a_lost_commit_reply_is_a_503_whose_outcome_is_unknown(
    database: str, dropper: CommitReplyDropper
) -> None:
    ran: list[str] = []
    router = APIRouter()

    @router.post("/notes/{body}", status_code=201)
    async def add(body: str, session: SessionDep) -> dict[str, str]:
        await session.execute(text("INSERT INTO notes VALUES (:b)"), {"b": body})

        async def note() -> None:
            ran.append(body)

        after_commit(session, note)
        return {"ok": body}

    async def serve_twice(request: Request) -> Answer:
        # The auth token endpoint's shape: the fast path, the dependency as a context manager.
        async with request_session(request) as session:
            for body in ("twice-1", "twice-2"):
                await session.execute(text("INSERT INTO notes VALUES (:b)"), {"b": body})
        return Answer(201, b"{}", [(b"content-type", b"application/json")])

    @router.post("/twice")
    @fast_answer(serve_twice)
    async def twice(request: Request) -> object:
        return (await serve_twice(request)).response()

    settings = ServiceSettings(database_url=dropper.url_for(database))
    app = create_service_app(settings=settings, title="t", version="0", routers=[router])
    async with app.router.lifespan_context(app):
        # An exception escaping the app would raise here: the lost COMMIT must be answered.
        transport = ASGITransport(app=app, raise_app_exceptions=True)
        async with AsyncClient(transport=transport, base_url="http://t") as client:
            for path in ("/notes/lost", "/twice"):
                dropper.arm()
                lost = await client.post(path)
                assert dropper.dropped.is_set(), path
                assert lost.status_code == 503, lost.text
                assert lost.headers["content-type"] == PROBLEM_CONTENT_TYPE
                assert lost.headers["retry-after"] == "1"
                problem = lost.json()
                assert problem["type"] == problem_type("commit-outcome-unknown")
                assert "may or may not have been applied" in problem["detail"]
                assert "INSERT" not in lost.text

            # The pool recovered: the next request commits through a fresh connection.
            assert (await client.post("/notes/kept")).status_code == 201
        # A COMMIT the server refused (deferred unique check) is a known outcome: nothing was
        # written, and it is not reported as unknown (an unhandled error, as before).
        transport = ASGITransport(app=app, raise_app_exceptions=False)
        async with AsyncClient(transport=transport, base_url="http://t") as client:
            refused = await client.post("/notes/kept")
            assert refused.status_code == 500, refused.text
            assert refused.json()["type"] == "about:blank"

    # The lost COMMITs did apply: why the answer may not say "nothing was written".
    assert await _notes(database) == ["kept", "lost", "twice-1", "twice-2"]
    # After-commit callbacks (invalidations) run after a commit that applied or may have
    # applied ("lost"), never after one known to have failed (the refused second "kept").
    assert ran == ["lost", "kept"]


class _Base(DeclarativeBase):
    pass


class _Note(_Base):
    __tablename__ = "notes"
    body: Mapped[str] = mapped_column(primary_key=True)


async def test_a_connection_lost_before_the_commit_is_still_nothing_written(database: str) -> None:
    router = APIRouter()

    @router.post("/notes/{body}", status_code=201)
    async def add(body: str, session: SessionDep) -> dict[str, str]:
        # Pending until the dependency flushes it; the connection dies before that.
        session.add(_Note(body=body))
        pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        conn = await asyncpg.connect(asyncpg_dsn(database))
        try:
            await conn.execute("SELECT pg_terminate_backend($1)", pid)
        finally:
            await conn.close()
        return {"ok": body}

    app = create_service_app(
        settings=ServiceSettings(database_url=database), title="t", version="0", routers=[router]
    )
    async with app.router.lifespan_context(app):
        transport = ASGITransport(app=app, raise_app_exceptions=False)
        async with AsyncClient(transport=transport, base_url="http://t") as client:
            failed = await client.post("/notes/never")
    assert failed.status_code == 503, failed.text
    assert failed.json()["type"] == problem_type("dependency-unavailable")
    assert await _notes(database) == []
