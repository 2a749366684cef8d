"""The service engine keeps SQL parameters out of errors (and so out of logs and tracebacks)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from orders_service.settings import OrdersSettings
from servicekit.data.db import create_engine

SECRET = "maria.secret@example.com"


async def test_a_failing_statement_does_not_print_its_parameters(
    orders_database_url: str,
) -> None:
    engine = create_engine(OrdersSettings(database_url=orders_database_url))
    try:
        async with engine.connect() as conn:
            with pytest.raises(DBAPIError) as failure:
                # Fails in the server, after the parameter was bound. (A value asyncpg refuses
                # to encode is named in asyncpg's own message whatever the engine says, so
                # input is validated before it gets that far.)
                await conn.execute(text("SELECT 1 / 0 WHERE :email <> ''"), {"email": SECRET})
    finally:
        await engine.dispose()
    assert SECRET not in str(failure.value)
    assert "hide_parameters=True" in str(failure.value)
