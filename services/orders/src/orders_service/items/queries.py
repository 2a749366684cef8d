"""The hot item read in SQLAlchemy Core: one prebuilt statement on an autocommit connection.

An uncached GET /items/{id} through the ORM spent more CPU building, keying and loading a
Select than the query's round trip cost (profile in ADR 0001): here the statement is built
once with the tenant and id as parameters and the row goes straight to JSON. Its narrowing is
`ItemRepository.select()`'s (this tenant, live rows), written out with parameters;
tests/property/orders/test_item_queries.py holds the two equal for every tenant and row state.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import RowMapping, Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from orders_service.items.models import Item
from orders_service.items.schemas import READ_COLUMNS

_ITEMS: Table = Item.__table__  # type: ignore[attr-defined]

_LIVE_ITEM_BY_ID = select(*(_ITEMS.c[name] for name in READ_COLUMNS)).where(
    _ITEMS.c.tenant_id == bindparam("tenant_id"),
    _ITEMS.c.deleted_at.is_(None),
    _ITEMS.c.id == bindparam("item_id"),
)


async def live_item_row(
    connection: AsyncConnection, *, tenant_id: str, item_id: uuid.UUID
) -> RowMapping | None:
    """The READ_COLUMNS of this tenant's live item `item_id`, or None (absent, deleted or
    another tenant's: the caller answers 404 for all three)."""
    params: dict[str, Any] = {"tenant_id": tenant_id, "item_id": item_id}
    result = await connection.execute(_LIVE_ITEM_BY_ID, params)
    return result.mappings().first()
