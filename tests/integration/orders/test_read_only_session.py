"""Hot reads run outside a transaction: one round trip per query (no BEGIN, no ROLLBACK)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from orders_service.items.repository import ItemRepository
from orders_service.reads import read_only_session
from tests.support.ids import new_tenant


async def _in_transaction_after_a_read(engine: AsyncEngine, *, read_only: bool) -> bool:
    if read_only:
        async with read_only_session(engine) as session:
            await ItemRepository(session, tenant_id=new_tenant()).get(None)
            raw = await (await session.connection()).get_raw_connection()
            return bool(raw.driver_connection.is_in_transaction())  # type: ignore[union-attr]
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
        raw = await conn.get_raw_connection()
        return bool(raw.driver_connection.is_in_transaction())  # type: ignore[union-attr]


async def test_a_read_only_session_never_opens_a_transaction(orders_engine: AsyncEngine) -> None:
    # The contrast: a default connection has sent BEGIN before its first statement.
    assert await _in_transaction_after_a_read(orders_engine, read_only=False)
    assert not await _in_transaction_after_a_read(orders_engine, read_only=True)
