"""The pedidos and pedido_lines tables, the status machine and the pricing rules."""

import uuid
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, Relationship

from orders_service._types import StrEnumColumn, check_in
from orders_service.db import OrdersTable
from orders_service.money import to_cents


class PedidoStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    PROCESSING = "processing"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


# action -> (states it may start from, state it leads to)
TRANSITIONS: dict[str, tuple[frozenset[PedidoStatus], PedidoStatus]] = {
    "confirm": (frozenset({PedidoStatus.PENDING}), PedidoStatus.CONFIRMED),
    "process": (frozenset({PedidoStatus.CONFIRMED}), PedidoStatus.PROCESSING),
    "ship": (frozenset({PedidoStatus.PROCESSING}), PedidoStatus.SHIPPED),
    "deliver": (frozenset({PedidoStatus.SHIPPED}), PedidoStatus.DELIVERED),
    "cancel": (
        frozenset(
            {
                PedidoStatus.PENDING,
                PedidoStatus.CONFIRMED,
                PedidoStatus.PROCESSING,
                PedidoStatus.SHIPPED,
            }
        ),
        PedidoStatus.CANCELLED,
    ),
}

# States in which the pedido's quantities are held out of the items' stock.
HOLDS_STOCK = frozenset({PedidoStatus.CONFIRMED, PedidoStatus.PROCESSING, PedidoStatus.SHIPPED})


def line_subtotal(unit_price: Decimal, quantity: int) -> Decimal:
    return unit_price * quantity


def line_total(unit_price: Decimal, quantity: int, discount: Decimal) -> Decimal:
    """Price after the line's percentage discount, rounded half up to cents per line.

    `PedidoMinTotalSpec` computes the same expression in SQL (PostgreSQL's round() on numeric
    also rounds half away from zero), so the database and Python agree to the cent.
    """
    return to_cents(unit_price * quantity * (100 - discount) / 100)


class Pedido(OrdersTable, table=True):
    __tablename__ = "pedidos"
    __table_args__ = (
        Index("ix_pedidos_tenant_id_created_at_id", "tenant_id", "created_at", "id"),
        Index("ix_pedidos_tenant_id_customer_id", "tenant_id", "customer_id"),
        CheckConstraint(check_in("status", PedidoStatus), name="status_known"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    tenant_id: str = Field(sa_type=String(64), nullable=False)
    customer_id: str = Field(sa_type=String(64), nullable=False)
    status: PedidoStatus = Field(
        default=PedidoStatus.PENDING, sa_type=StrEnumColumn(PedidoStatus), nullable=False
    )
    currency: str = Field(sa_type=String(3), nullable=False)
    cancel_reason: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
    updated_at: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
    created_by: str = Field(sa_type=String(255), nullable=False)
    updated_by: str = Field(sa_type=String(255), nullable=False)
    deleted_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    version: int = Field(default=1, nullable=False)

    # Lines belong to their pedido: loaded with it (selectin: async has no lazy loads),
    # deleted with it, kept in the order they were added.
    lines: list["PedidoLine"] = Relationship(
        sa_relationship_kwargs={
            "lazy": "selectin",
            "order_by": "PedidoLine.line_no",
            "cascade": "all, delete-orphan",
        }
    )

    @property
    def subtotal(self) -> Decimal:
        return sum_amounts(line_subtotal(li.unit_price, li.quantity) for li in self.lines)

    @property
    def total(self) -> Decimal:
        return sum_amounts(line_total(li.unit_price, li.quantity, li.discount) for li in self.lines)

    @property
    def items_count(self) -> int:
        return sum(li.quantity for li in self.lines)


def sum_amounts(amounts: Iterable[Decimal]) -> Decimal:
    return to_cents(sum(amounts, Decimal(0)))


class PedidoLine(OrdersTable, table=True):
    __tablename__ = "pedido_lines"
    __table_args__ = (
        UniqueConstraint("pedido_id", "line_no"),
        Index("ix_pedido_lines_item_id", "item_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price >= 0", name="unit_price_non_negative"),
        CheckConstraint("discount >= 0 AND discount <= 100", name="discount_percentage"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    # Set by the Pedido.lines relationship on flush (None until the line joins a pedido).
    pedido_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(ForeignKey("pedidos.id", ondelete="CASCADE"), nullable=False)
    )
    item_id: uuid.UUID = Field(sa_column=Column(ForeignKey("items.id"), nullable=False))
    line_no: int = Field(nullable=False)
    quantity: int = Field(nullable=False)
    # The item's price when the line was added: later price changes do not reprice a pedido.
    unit_price: Decimal = Field(sa_column=Column(Numeric(12, 2), nullable=False))
    discount: Decimal = Field(default=Decimal(0), sa_column=Column(Numeric(5, 2), nullable=False))
