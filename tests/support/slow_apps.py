"""Each service's real app plus one slow route, for the shutdown tests (never shipped).

`GET /test/slow?seconds=S` sleeps S seconds, then runs one query through the request session,
so a request in flight at SIGTERM also holds the database pool to the end.
"""

from __future__ import annotations

import asyncio

from fastapi import FastAPI
from sqlalchemy import text

from auth_service.main import create_app as create_auth_app
from orders_service.main import create_app as create_orders_app
from servicekit.data.db import SessionDep


def _with_slow_route(app: FastAPI) -> FastAPI:
    @app.get("/test/slow", include_in_schema=False)
    async def slow(seconds: float, session: SessionDep) -> dict[str, float]:
        await asyncio.sleep(seconds)
        await session.execute(text("SELECT 1"))
        return {"slept": seconds}

    return app


def auth_app() -> FastAPI:
    return _with_slow_route(create_auth_app())


def orders_app() -> FastAPI:
    return _with_slow_route(create_orders_app())
