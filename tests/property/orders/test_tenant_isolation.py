"""Tenant isolation: whatever one tenant does, it never sees or changes another tenant's rows."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from orders_service.errors import InvalidLinesError, NotFoundError
from orders_service.items.models import Item, ItemStatus
from orders_service.items.repository import ItemRepository
from orders_service.items.schemas import ItemListQuery, ItemUpdate
from orders_service.items.service import ItemService, render_item
from orders_service.pedidos.models import Pedido
from orders_service.pedidos.schemas import PedidoCreate, PedidoLineCreate, PedidoListQuery
from orders_service.pedidos.service import PedidoService
from tests.property.orders.strategies import items
from tests.support.ids import new_tenant
from tests.support.orders import actor, rolled_back


async def _snapshot(session: AsyncSession, tenants: list[str]) -> dict[str, list[Any]]:
    """Every row of the given tenants, straight from the tables."""
    out: dict[str, list[Any]] = {}
    for table in ("items", "pedidos", "outbox"):
        rows = await session.execute(
            text(f"SELECT * FROM {table} WHERE tenant_id = ANY(:t) ORDER BY id"),  # noqa: S608 - fixed table names
            {"t": tenants},
        )
        out[table] = [tuple(row) for row in rows]
    lines = await session.execute(
        text(
            "SELECT l.* FROM pedido_lines l JOIN pedidos p ON p.id = l.pedido_id "
            "WHERE p.tenant_id = ANY(:t) ORDER BY l.id"
        ),
        {"t": tenants},
    )
    out["pedido_lines"] = [tuple(row) for row in lines]
    return out


async def _expect_not_found(coro: Any) -> None:
    with pytest.raises(NotFoundError):
        await coro


@given(data=st.data())
async def test_no_tenant_reads_lists_updates_or_deletes_another_tenants_rows(
    orders_engine: AsyncEngine, data: st.DataObject
) -> None:
    """For random items and pedidos in three tenants, and each tenant acting in turn: reads,
    lists, updates, deletes and pedido actions aimed at other tenants' ids are 404s, lists show
    only the tenant's own rows, and the other tenants' rows are byte-for-byte unchanged."""
    tenants = [new_tenant() for _ in range(3)]
    async with rolled_back(orders_engine) as session:
        owned_items: dict[str, list[Item]] = {}
        owned_pedidos: dict[str, list[Pedido]] = {}
        for tenant in tenants:
            population = data.draw(st.lists(items(tenant), min_size=1, max_size=4))
            for item in population:
                item.status = ItemStatus.ACTIVE
                item.quantity = max(item.quantity, 1)
                await ItemRepository(session, tenant_id=tenant).add(item)
            owned_items[tenant] = population
            pedido = await PedidoService(session, actor(tenant)).create(
                PedidoCreate(
                    customer_id="c1",
                    items=[PedidoLineCreate(item_id=population[0].id, quantity=1)],
                )
            )
            owned_pedidos[tenant] = [pedido]

        for acting in tenants:
            others = [t for t in tenants if t != acting]
            before = await _snapshot(session, others)
            item_service = ItemService(session, actor(acting))
            pedido_service = PedidoService(session, actor(acting))
            foreign_items = [i.id for t in others for i in owned_items[t]]
            foreign_pedidos = [p for t in others for p in owned_pedidos[t]]

            listed = await item_service.list_page(ItemListQuery(limit=100))
            assert {i["id"] for i in listed.items} == {i.id for i in owned_items[acting]}
            pedido_page = await pedido_service.list_page(PedidoListQuery(limit=100))
            assert {p.id for p in pedido_page.items} == {p.id for p in owned_pedidos[acting]}

            connection = await session.connection()
            for item_id in foreign_items:
                assert await render_item(connection, tenant_id=acting, item_id=item_id) is None
                await _expect_not_found(item_service.get(item_id))
                await _expect_not_found(item_service.update(item_id, ItemUpdate(quantity=0)))
                await _expect_not_found(item_service.delete(item_id))
                with pytest.raises(InvalidLinesError):
                    await pedido_service.create(
                        PedidoCreate(
                            customer_id="c1",
                            items=[PedidoLineCreate(item_id=item_id, quantity=1)],
                        )
                    )
            for pedido in foreign_pedidos:
                line = PedidoLineCreate(item_id=owned_items[acting][0].id, quantity=1)
                await _expect_not_found(pedido_service.get(pedido.id))
                await _expect_not_found(pedido_service.add_line(pedido.id, line))
                await _expect_not_found(pedido_service.remove_line(pedido.id, pedido.lines[0].id))
                await _expect_not_found(pedido_service.confirm(pedido.id))
                await _expect_not_found(pedido_service.cancel(pedido.id))
                for action in ("process", "ship", "deliver"):
                    await _expect_not_found(pedido_service.advance(pedido.id, action))

            # The acting tenant's own writes land, and still nowhere else.
            own = owned_items[acting][0]
            await item_service.update(own.id, ItemUpdate(name="renamed"))
            await pedido_service.confirm(owned_pedidos[acting][0].id)
            await item_service.delete(owned_items[acting][-1].id)
            assert await _snapshot(session, others) == before
