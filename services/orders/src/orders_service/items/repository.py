"""Every query of the items table."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import ClassVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from orders_service.items.models import Item
from orders_service.items.specifications import ItemTenantSpec
from orders_service.pedidos.models import Pedido, PedidoLine, PedidoStatus
from servicekit.data.repository import TenantRepository
from servicekit.data.specification import Specification


class ItemRepository(TenantRepository[Item]):
    model = Item
    sortable: ClassVar[Mapping[str, str]] = {
        "created_at": "created_at",
        "updated_at": "updated_at",
        "price": "price_amount",
        "name": "name",
        "sku": "sku",
    }

    def tenant_spec(self) -> Specification[Item]:
        return ItemTenantSpec(self.tenant_id)

    async def sku_in_use(self, sku: str, *, excluding: uuid.UUID | None = None) -> bool:
        """Whether a live item of this tenant already has `sku`."""
        stmt = self.select().where(col(Item.sku) == sku)
        if excluding is not None:
            stmt = stmt.where(col(Item.id) != excluding)
        return (await self.session.execute(stmt.limit(1))).first() is not None

    async def get_many(self, item_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Item]:
        """Live items of this tenant among `item_ids`, by id (absent ids are simply missing)."""
        if not item_ids:
            return {}
        stmt = self.select().where(col(Item.id).in_(set(item_ids)))
        return {item.id: item for item in (await self.session.execute(stmt)).scalars()}


async def hottest_items(
    session: AsyncSession, *, limit: int, since: datetime
) -> list[tuple[str, uuid.UUID]]:
    """(tenant_id, id) of the `limit` hottest live items of every tenant, hottest first.

    Hottest = named by the most pedido lines of pedidos created since `since` (cancelled
    ones excepted), then the most recently updated: what is being ordered now is what is
    being read now, and a fresh catalogue with no pedidos yet still warms its newest items.
    Across tenants on purpose: only the `cache warm` command calls it, never a request.
    """
    ordered = (
        select(col(PedidoLine.item_id).label("item_id"), func.count().label("lines"))
        .join(Pedido, col(Pedido.id) == col(PedidoLine.pedido_id))
        .where(col(Pedido.created_at) >= since, col(Pedido.status) != PedidoStatus.CANCELLED)
        .group_by(col(PedidoLine.item_id))
        .subquery()
    )
    stmt = (
        select(col(Item.tenant_id), col(Item.id))
        .outerjoin(ordered, ordered.c.item_id == col(Item.id))
        .where(col(Item.deleted_at).is_(None))
        .order_by(
            func.coalesce(ordered.c.lines, 0).desc(), col(Item.updated_at).desc(), col(Item.id)
        )
        .limit(limit)
    )
    return [(tenant, item_id) for tenant, item_id in (await session.execute(stmt)).all()]
