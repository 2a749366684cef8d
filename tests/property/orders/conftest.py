"""An engine on this session's orders database (migrated to head)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.orders import orders_engine_for


@pytest.fixture(scope="session")
async def orders_engine(orders_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = orders_engine_for(orders_database_url)
    yield engine
    await engine.dispose()
