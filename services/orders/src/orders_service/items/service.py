"""Item use cases: create, read, update, delete, list; each change writes its outbox event."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from orders_service._paging import list_rows_page
from orders_service.context import Actor
from orders_service.errors import (
    ItemNotFoundError,
    PreconditionRequiredError,
    SkuTakenError,
    StaleVersionError,
    StockOutOfRangeError,
)
from orders_service.items.models import Item, ItemStatus, status_for_stock
from orders_service.items.queries import live_item_row
from orders_service.items.repository import ItemRepository
from orders_service.items.schemas import (
    MAX_QUANTITY,
    READ_COLUMNS,
    ItemCreate,
    ItemListQuery,
    ItemRead,
    ItemUpdate,
    StockAdjustment,
)
from orders_service.items.specifications import (
    ItemAvailableSpec,
    ItemCategorySpec,
    ItemCurrencySpec,
    ItemPriceRangeSpec,
    ItemStatusSpec,
    ItemTagSpec,
    ItemTextSpec,
)
from orders_service.money import Money
from orders_service.outbox.repository import OutboxRepository
from orders_service.outbox.schemas import (
    ItemCreated,
    ItemDeleted,
    ItemStockAdjusted,
    ItemUpdated,
)
from orders_service.preconditions import IfMatch, etag_for
from servicekit.data.repository import Page
from servicekit.data.specification import Specification, and_spec

_SKU_INDEX = "uq_items_tenant_id_sku_live"


@dataclass(frozen=True, slots=True)
class RenderedItem:
    """The final response of GET /items/{id}: body bytes and the ETag that goes with them."""

    body: bytes
    etag: str


def render(item: Item) -> RenderedItem:
    return _rendered(ItemRead.from_model(item))


def _rendered(item: ItemRead) -> RenderedItem:
    return RenderedItem(item.__pydantic_serializer__.to_json(item), etag_for(item.version))


async def render_item(
    connection: AsyncConnection, *, tenant_id: str, item_id: uuid.UUID
) -> RenderedItem | None:
    """The item read path as one function of (tenant, id): the seam a response cache wraps.

    Permission checks happen before it; None means "404" (absent, deleted or another tenant's).
    A Core read (items.queries), not the repository's entity: this is the hottest query.
    """
    row = await live_item_row(connection, tenant_id=tenant_id, item_id=item_id)
    return None if row is None else _rendered(ItemRead.from_row(row))


def list_spec(query: ItemListQuery) -> Specification[Item]:
    """The filters of GET /items as one specification (no filter selects every item)."""
    parts: list[Specification[Item]] = []
    if query.category is not None:
        parts.append(ItemCategorySpec(query.category))
    if query.currency is not None:
        parts.append(ItemCurrencySpec(query.currency))
    if query.min_price is not None or query.max_price is not None:
        parts.append(ItemPriceRangeSpec(query.min_price, query.max_price))
    if query.available is not None:
        parts.append(ItemAvailableSpec() if query.available else ~ItemAvailableSpec())
    if query.status is not None:
        parts.append(ItemStatusSpec(query.status))
    if query.tag is not None:
        parts.append(ItemTagSpec(query.tag))
    if query.q is not None:
        parts.append(ItemTextSpec(query.q))
    return and_spec(*parts)


@contextmanager
def _sku_conflicts_as_409(sku: str) -> Iterator[None]:
    # The read-before-write check answers the common case; the partial unique index decides
    # the race between two writers that both passed it.
    try:
        yield
    except IntegrityError as exc:
        if _SKU_INDEX in str(exc.orig):
            raise SkuTakenError(sku) from None
        raise


class ItemService:
    def __init__(self, session: AsyncSession, actor: Actor) -> None:
        self.actor = actor
        self.items = ItemRepository(session, tenant_id=actor.tenant_id)
        self.outbox = OutboxRepository(session, tenant_id=actor.tenant_id)

    async def create(self, data: ItemCreate) -> Item:
        if await self.items.sku_in_use(data.sku):
            raise SkuTakenError(data.sku)
        now = datetime.now(UTC)
        item = Item(
            tenant_id=self.actor.tenant_id,
            sku=data.sku,
            name=data.name,
            description=data.description,
            price_amount=data.price["amount"],
            price_currency=data.price["currency"],
            category=data.category,
            tags=list(data.tags),
            quantity=data.quantity,
            status=status_for_stock(ItemStatus.ACTIVE, data.quantity),
            created_at=now,
            updated_at=now,
            created_by=self.actor.subject,
            updated_by=self.actor.subject,
        )
        with _sku_conflicts_as_409(data.sku):
            await self.items.add(item)
        await self.outbox.record(
            ItemCreated(
                occurred_at=now,
                tenant_id=item.tenant_id,
                actor=self.actor.subject,
                item_id=item.id,
                version=item.version,
                sku=item.sku,
                name=item.name,
                price=Money(amount=item.price_amount, currency=item.price_currency),
                quantity=item.quantity,
                status=item.status.value,
            )
        )
        return item

    async def get(self, item_id: uuid.UUID) -> Item:
        item = await self.items.get(item_id)
        if item is None:
            raise ItemNotFoundError(item_id)
        return item

    async def _locked(self, item_id: uuid.UUID, if_match: IfMatch | None) -> Item:
        # The row lock makes check-then-write atomic: two PATCHes carrying the same ETag
        # cannot both pass the version check.
        item = await self.items.get(item_id, for_update=True)
        if item is None:
            raise ItemNotFoundError(item_id)
        if if_match is not None and not if_match.matches(item.version):
            raise StaleVersionError(item.version)
        return item

    async def update(
        self, item_id: uuid.UUID, patch: ItemUpdate, *, if_match: IfMatch | None = None
    ) -> Item:
        item = await self._locked(item_id, if_match)  # 404 before 428: absent is absent
        given = patch.given()
        if "quantity" in given and if_match is None:
            # An absolute quantity without a version silently undoes any confirm or
            # adjustment made since the client read it (and later confirms oversell).
            raise PreconditionRequiredError("quantity")
        changes: dict[str, Any] = {}
        for field in ("sku", "name", "description", "category", "quantity"):
            if field in given and given[field] != getattr(item, field):
                changes[field] = given[field]
        if "tags" in given and given["tags"] != list(item.tags):
            changes["tags"] = list(given["tags"])
        if "price" in given:
            if given["price"]["amount"] != item.price_amount:
                changes["price_amount"] = given["price"]["amount"]
            if given["price"]["currency"] != item.price_currency:
                changes["price_currency"] = given["price"]["currency"]
        requested = ItemStatus(given["status"]) if "status" in given else item.status
        status = status_for_stock(requested, changes.get("quantity", item.quantity))
        if status != item.status:
            changes["status"] = status
        if not changes:
            return item
        if "sku" in changes and await self.items.sku_in_use(changes["sku"], excluding=item.id):
            raise SkuTakenError(changes["sku"])
        now = datetime.now(UTC)
        with _sku_conflicts_as_409(changes.get("sku", item.sku)):
            await self.items.update(
                item, {**changes, "updated_at": now, "updated_by": self.actor.subject}
            )
        await self.outbox.record(
            ItemUpdated(
                occurred_at=now,
                tenant_id=item.tenant_id,
                actor=self.actor.subject,
                item_id=item.id,
                version=item.version,
                changed=sorted(changes),
            )
        )
        return item

    async def adjust_stock(self, item_id: uuid.UUID, adjustment: StockAdjustment) -> Item:
        """Add `adjustment.delta` to the stock under the row lock; never below zero."""
        item = await self._locked(item_id, None)
        quantity = item.quantity + adjustment.delta
        if not 0 <= quantity <= MAX_QUANTITY:
            raise StockOutOfRangeError(
                available=item.quantity, delta=adjustment.delta, maximum=MAX_QUANTITY
            )
        now = datetime.now(UTC)
        changes: dict[str, Any] = {"quantity": quantity}
        status = status_for_stock(item.status, quantity)
        if status != item.status:
            changes["status"] = status
        await self.items.update(
            item, {**changes, "updated_at": now, "updated_by": self.actor.subject}
        )
        await self.outbox.record(
            ItemStockAdjusted(
                occurred_at=now,
                tenant_id=item.tenant_id,
                actor=self.actor.subject,
                item_id=item.id,
                version=item.version,
                delta=adjustment.delta,
                quantity=quantity,
                reason=adjustment.reason,
            )
        )
        return item

    async def delete(self, item_id: uuid.UUID, *, if_match: IfMatch | None = None) -> None:
        item = await self._locked(item_id, if_match)
        now = datetime.now(UTC)
        item.updated_by = self.actor.subject
        item.updated_at = now
        await self.items.soft_delete(item, at=now)
        await self.outbox.record(
            ItemDeleted(
                occurred_at=now,
                tenant_id=item.tenant_id,
                actor=self.actor.subject,
                item_id=item.id,
                version=item.version,
                sku=item.sku,
            )
        )

    async def list_page(self, query: ItemListQuery) -> Page[RowMapping]:
        # Rows, not entities: the list only renders them (items.schemas.READ_COLUMNS).
        return await list_rows_page(self.items, list_spec(query), query, columns=READ_COLUMNS)
