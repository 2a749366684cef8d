"""The request session commits before the response leaves, never after."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
from fastapi import FastAPI
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit.core.settings import normalize_database_url
from servicekit.data.db import SessionDep, create_sessionmaker


async def test_commit_happens_before_the_response_starts(orders_database_url: str) -> None:
    engine = create_async_engine(normalize_database_url(orders_database_url))
    happened: list[str] = []
    app = FastAPI()
    app.state.resources = SimpleNamespace(sessionmaker=create_sessionmaker(engine))

    @app.post("/write")
    async def write(session: SessionDep) -> dict[str, bool]:
        event.listen(session.sync_session, "after_commit", lambda _s: happened.append("commit"))
        await session.execute(text("SELECT 1"))
        return {"ok": True}

    def recorder(inner: ASGIApp) -> ASGIApp:
        async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
            async def record(message: Message) -> None:
                if message["type"] == "http.response.start":
                    happened.append("response")
                await send(message)

            await inner(scope, receive, record)

        return asgi

    transport = httpx.ASGITransport(app=recorder(app))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await client.post("/write")).status_code == 200
    finally:
        await engine.dispose()
    assert happened == ["commit", "response"]
