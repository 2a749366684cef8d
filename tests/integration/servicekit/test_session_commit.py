"""The request dependency commits, rolls back on error, and runs after-commit callbacks."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from fastapi import APIRouter
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text

from servicekit.core.settings import ServiceSettings
from servicekit.data.db import SessionDep, after_commit
from servicekit.web.app import create_service_app
from tests.support.backends import Backends, asyncpg_dsn, create_database, drop_database


@pytest.fixture
async def database(backends: Backends) -> AsyncIterator[str]:
    url = await create_database(backends.postgres_url, "test_session")
    conn = await asyncpg.connect(asyncpg_dsn(url))
    await conn.execute("CREATE TABLE notes (body text NOT NULL)")
    await conn.close()
    yield url
    await drop_database(url)


async def test_commit_then_callbacks_and_rollback_without_them(database: str) -> None:
    ran: list[str] = []
    router = APIRouter()

    @router.post("/notes/{body}")
    async def add(body: str, session: SessionDep) -> dict[str, str]:
        await session.execute(text("INSERT INTO notes VALUES (:b)"), {"b": body})

        async def note() -> None:
            ran.append(body)

        after_commit(session, note)
        if body == "fail":
            raise RuntimeError("handler failed after writing")
        return {"ok": body}

    app = create_service_app(
        settings=ServiceSettings(database_url=database), title="t", version="0", routers=[router]
    )
    async with app.router.lifespan_context(app):
        transport = ASGITransport(app=app, raise_app_exceptions=False)
        async with AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.post("/notes/kept")).status_code == 200
            assert (await client.post("/notes/fail")).status_code == 500
    conn = await asyncpg.connect(asyncpg_dsn(database))
    rows = [r["body"] for r in await conn.fetch("SELECT body FROM notes")]
    await conn.close()
    assert rows == ["kept"]  # the failed request left no partial write
    assert ran == ["kept"]  # callbacks run only after a commit
