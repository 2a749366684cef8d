"""Pedido specifications: each evaluates a Pedido in memory and compiles to the same SQL rule."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import ColumnElement, func, select
from sqlmodel import col

from orders_service.pedidos.models import Pedido, PedidoLine, PedidoStatus
from servicekit.data.specification import Specification


class PedidoTenantSpec(Specification[Pedido]):
    """Pedidos of one tenant (every pedido query is narrowed by this)."""

    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id

    def is_satisfied_by(self, candidate: Pedido) -> bool:
        return candidate.tenant_id == self.tenant_id

    def to_sql(self) -> ColumnElement[bool]:
        return col(Pedido.tenant_id) == self.tenant_id


class PedidoStatusSpec(Specification[Pedido]):
    """Pedidos in one status."""

    def __init__(self, status: PedidoStatus) -> None:
        self.status = PedidoStatus(status)

    def is_satisfied_by(self, candidate: Pedido) -> bool:
        return candidate.status == self.status

    def to_sql(self) -> ColumnElement[bool]:
        return col(Pedido.status) == self.status


class PedidoPendingSpec(PedidoStatusSpec):
    """Pedidos still open for changes."""

    def __init__(self) -> None:
        super().__init__(PedidoStatus.PENDING)


class PedidoConfirmedSpec(PedidoStatusSpec):
    """Pedidos confirmed (stock reserved) and not yet in processing."""

    def __init__(self) -> None:
        super().__init__(PedidoStatus.CONFIRMED)


class PedidoCustomerSpec(Specification[Pedido]):
    """Pedidos of one customer."""

    def __init__(self, customer_id: str) -> None:
        self.customer_id = customer_id

    def is_satisfied_by(self, candidate: Pedido) -> bool:
        return candidate.customer_id == self.customer_id

    def to_sql(self) -> ColumnElement[bool]:
        return col(Pedido.customer_id) == self.customer_id


class PedidoCurrencySpec(Specification[Pedido]):
    """Pedidos in one currency: a total bound compares within it."""

    def __init__(self, currency: str) -> None:
        self.currency = currency

    def is_satisfied_by(self, candidate: Pedido) -> bool:
        return candidate.currency == self.currency

    def to_sql(self) -> ColumnElement[bool]:
        return col(Pedido.currency) == self.currency


def total_sql() -> ColumnElement[Decimal]:
    """A pedido's total as a correlated aggregate over its lines.

    The same rule as `Pedido.total`: each line rounded half up to cents, then summed; a pedido
    without lines totals 0. Kept in plain SQLAlchemy (an aggregate subquery, see ADR 0001).
    """
    line = (
        col(PedidoLine.unit_price)
        * col(PedidoLine.quantity)
        * (100 - col(PedidoLine.discount))
        / 100
    )
    return (
        select(func.coalesce(func.sum(func.round(line, 2)), 0))
        .where(col(PedidoLine.pedido_id) == col(Pedido.id))
        .correlate(Pedido)
        .scalar_subquery()
    )


class PedidoMinTotalSpec(Specification[Pedido]):
    """Pedidos whose total is at least `minimum` (inclusive)."""

    def __init__(self, minimum: Decimal) -> None:
        self.minimum = minimum

    def is_satisfied_by(self, candidate: Pedido) -> bool:
        return candidate.total >= self.minimum

    def to_sql(self) -> ColumnElement[bool]:
        return total_sql() >= self.minimum
