"""The items table."""

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, Column, DateTime, Index, Numeric, String, Text, event, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field

from orders_service._text import search_text
from orders_service._types import StrEnumColumn, check_in
from orders_service.db import OrdersTable


class ItemStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    OUT_OF_STOCK = "out_of_stock"
    DISCONTINUED = "discontinued"


def status_for_stock(status: ItemStatus, quantity: int) -> ItemStatus:
    """Stock reaching 0 moves active to out_of_stock, and stock coming back moves it back.

    Inactive and discontinued are decisions of a person; stock levels never override them.
    """
    if status is ItemStatus.ACTIVE and quantity == 0:
        return ItemStatus.OUT_OF_STOCK
    if status is ItemStatus.OUT_OF_STOCK and quantity > 0:
        return ItemStatus.ACTIVE
    return status


class Item(OrdersTable, table=True):
    __tablename__ = "items"
    __table_args__ = (
        # SKUs are unique per tenant among live items: a deleted item frees its SKU.
        Index(
            "uq_items_tenant_id_sku_live",
            "tenant_id",
            "sku",
            unique=True,
            postgresql_where=text("deleted_at IS NULL"),
        ),
        # The default list order (newest first) within a tenant, keyset-paginated by id.
        Index("ix_items_tenant_id_created_at_id", "tenant_id", "created_at", "id"),
        Index("ix_items_tags", "tags", postgresql_using="gin"),
        CheckConstraint("quantity >= 0", name="quantity_non_negative"),
        CheckConstraint("price_amount >= 0", name="price_non_negative"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint(check_in("status", ItemStatus), name="status_known"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    tenant_id: str = Field(sa_type=String(64), nullable=False)
    sku: str = Field(sa_type=String(64), nullable=False)
    name: str = Field(sa_type=String(200), nullable=False)
    description: str = Field(default="", sa_type=Text, nullable=False)
    price_amount: Decimal = Field(sa_column=Column(Numeric(12, 2), nullable=False))
    price_currency: str = Field(sa_type=String(3), nullable=False)
    category: str = Field(sa_type=String(64), nullable=False)
    tags: list[str] = Field(
        default_factory=list, sa_column=Column(ARRAY(String(40)), nullable=False)
    )
    quantity: int = Field(nullable=False)
    status: ItemStatus = Field(
        default=ItemStatus.ACTIVE, sa_type=StrEnumColumn(ItemStatus), nullable=False
    )
    created_at: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
    updated_at: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
    created_by: str = Field(sa_type=String(255), nullable=False)
    updated_by: str = Field(sa_type=String(255), nullable=False)
    deleted_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    version: int = Field(default=1, nullable=False)
    # name, SKU and description folded by orders_service._text.fold, kept by the listener
    # below on every ORM write: what ItemTextSpec searches (never shown in the API).
    search_text: str = Field(default="", sa_type=Text, nullable=False)


def item_search_text(item: Item) -> str:
    return search_text(item.name, item.sku, item.description)


@event.listens_for(Item, "before_insert")
@event.listens_for(Item, "before_update")
def _keep_search_text(_mapper: Any, _connection: Any, target: Item) -> None:
    # Computed from the fields at flush time, so no write path can forget it.
    target.search_text = item_search_text(target)
