"""Fixtures more than one tier uses, defined once (registered by tests/conftest.py).

They used to be copied into each tier's conftest or test module, and the copies drifted (one
Redis kept its data across a restart, another did not).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from servicekit.data.embedded import EmbeddedRedis
from tests.support.auth_app import AuthApp, auth_settings, running_auth
from tests.support.backends import Backends
from tests.support.ids import new_tenant
from tests.support.keyed_app import writes_database
from tests.support.orders import orders_engine_for


@pytest.fixture(scope="session")
async def auth_app(auth_database_url: str) -> AsyncIterator[AuthApp]:
    """One auth app on the session's migrated database."""
    async with running_auth(auth_settings(auth_database_url)) as app:
        yield app


@pytest.fixture(scope="session")
async def orders_engine(orders_database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the session's orders database (migrated to head)."""
    engine = orders_engine_for(orders_database_url)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="module")
async def pool(backends: Backends) -> AsyncIterator[asyncpg.Pool]:
    """A private database with the idempotency tests' `writes` table."""
    async with writes_database(backends.postgres_url) as created:
        yield created


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A Redis only this test stops, pauses and restarts (never the shared one). It saves its
    data on SIGTERM and loads it on start, like a real one across a restart."""
    server = EmbeddedRedis(tmp_path / "redis", persist=True).start()
    yield server
    server.stop()


@pytest.fixture
def tenant() -> str:
    """A tenant of this test alone: tests share one database and never see each other."""
    return new_tenant()
