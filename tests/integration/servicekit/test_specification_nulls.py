"""Specifications over a nullable column: SQL's NULL must read as Python's "not satisfied"."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import col

from orders_service.pedidos.models import Pedido
from orders_service.pedidos.repository import PedidoRepository
from servicekit.core.settings import normalize_database_url
from servicekit.data.repository import SortKey
from servicekit.data.specification import Specification
from tests.support.ids import new_tenant
from tests.support.orders import rolled_back


class ReasonIs(Specification[Pedido]):
    """A rule over a nullable column: `cancel_reason = 'x'` is NULL, not FALSE, for no reason."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def is_satisfied_by(self, candidate: Pedido) -> bool:
        return candidate.cancel_reason == self.reason

    def to_sql(self) -> ColumnElement[bool]:
        return col(Pedido.cancel_reason) == self.reason


async def test_negation_selects_the_rows_whose_rule_is_null(orders_database_url: str) -> None:
    engine = create_async_engine(normalize_database_url(orders_database_url))
    tenant = new_tenant()
    now = datetime.now(UTC)
    population = [
        Pedido(
            tenant_id=tenant,
            customer_id="c",
            currency="BRL",
            cancel_reason=reason,
            created_at=now,
            updated_at=now,
            created_by="t",
            updated_by="t",
        )
        for reason in ("x", "y", None)
    ]
    try:
        async with rolled_back(engine) as session:
            repo = PedidoRepository(session, tenant_id=tenant)
            for pedido in population:
                await repo.add(pedido)
            for spec in (
                ReasonIs("x"),
                ~ReasonIs("x"),
                ~~ReasonIs("x"),
                ~(ReasonIs("x") | ReasonIs("y")),
            ):
                page = await repo.list_by_spec(spec, sort=SortKey("created_at"), limit=10)
                expected = {p.id for p in population if spec.is_satisfied_by(p)}
                assert {p.id for p in page.items} == expected, spec
    finally:
        await engine.dispose()
