"""Every query of the items table."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import ClassVar

from sqlmodel import col

from orders_service.items.models import Item
from orders_service.items.specifications import ItemTenantSpec
from servicekit.repository import TenantRepository
from servicekit.specification import Specification


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
