"""Use cases against real PostgreSQL: outbox events, stock rules, pricing snapshots."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from orders_service.errors import (
    IllegalTransitionError,
    InsufficientStockError,
    SkuTakenError,
    StaleVersionError,
)
from orders_service.items.models import ItemStatus
from orders_service.items.schemas import ItemCreate, ItemUpdate
from orders_service.items.service import ItemService
from orders_service.outbox.repository import OutboxRepository
from orders_service.pedidos.models import PedidoStatus
from orders_service.pedidos.schemas import PedidoCreate, PedidoLineCreate
from orders_service.pedidos.service import PedidoService
from orders_service.preconditions import IfMatch
from tests.support.ids import new_tenant
from tests.support.orders import actor, rolled_back

# An absolute quantity needs a precondition (428 otherwise); these tests mean "any version".
ANY_VERSION = IfMatch(any_version=True, versions=frozenset())


def _create(sku: str = "SKU-1", quantity: int = 5, amount: str = "10.00") -> ItemCreate:
    return ItemCreate.model_validate(
        {
            "sku": sku,
            "name": "Mug",
            "price": {"amount": amount, "currency": "BRL"},
            "category": "kitchen",
            "quantity": quantity,
        }
    )


async def test_each_item_change_writes_its_event_in_the_same_transaction(
    orders_engine: AsyncEngine,
) -> None:
    tenant = new_tenant()
    async with rolled_back(orders_engine) as session:
        items = ItemService(session, actor(tenant, "alice"))
        item = await items.create(_create())
        await items.update(item.id, ItemUpdate(name="Big mug", quantity=0), if_match=ANY_VERSION)
        await items.update(item.id, ItemUpdate(name="Big mug"))  # no change, no event
        await items.delete(item.id)
        events = await OutboxRepository(session, tenant_id=tenant).events_of(item.id)
    assert [e.event_type for e in events] == ["ItemCreated", "ItemUpdated", "ItemDeleted"]
    assert all(e.actor == "alice" and e.tenant_id == tenant for e in events)
    assert events[1].changed == ["name", "quantity", "status"]  # type: ignore[union-attr]
    assert [e.version for e in events] == [1, 2, 3]  # type: ignore[union-attr]


async def test_confirm_and_cancel_events_carry_the_stock_they_moved(
    orders_engine: AsyncEngine,
) -> None:
    tenant = new_tenant()
    async with rolled_back(orders_engine) as session:
        item = await ItemService(session, actor(tenant)).create(_create(quantity=5))
        pedidos = PedidoService(session, actor(tenant))
        pedido = await pedidos.create(
            PedidoCreate(customer_id="c", items=[PedidoLineCreate(item_id=item.id, quantity=2)])
        )
        await pedidos.confirm(pedido.id)
        await pedidos.cancel(pedido.id, reason="changed mind")
        outbox = OutboxRepository(session, tenant_id=tenant)
        pedido_events = await outbox.events_of(pedido.id)
        item_events = await outbox.events_of(item.id)
    assert [e.event_type for e in pedido_events] == [
        "PedidoCreated",
        "PedidoConfirmed",
        "PedidoCancelled",
    ]
    confirmed, cancelled = pedido_events[1], pedido_events[2]
    assert confirmed.reserved[0].quantity == 2  # type: ignore[union-attr]
    assert cancelled.released[0].quantity == 2  # type: ignore[union-attr]
    assert cancelled.reason == "changed mind"  # type: ignore[union-attr]
    assert cancelled.previous_status == "confirmed"  # type: ignore[union-attr]
    assert [e.event_type for e in item_events] == ["ItemCreated", "ItemUpdated", "ItemUpdated"]


async def test_a_refused_confirm_changes_nothing(orders_engine: AsyncEngine) -> None:
    tenant = new_tenant()
    async with rolled_back(orders_engine) as session:
        items = ItemService(session, actor(tenant))
        plenty = await items.create(_create("A", quantity=10))
        scarce = await items.create(_create("B", quantity=1))
        pedidos = PedidoService(session, actor(tenant))
        pedido = await pedidos.create(
            PedidoCreate(
                customer_id="c",
                items=[
                    PedidoLineCreate(item_id=plenty.id, quantity=3),
                    PedidoLineCreate(item_id=scarce.id, quantity=2),
                ],
            )
        )
        with pytest.raises(InsufficientStockError) as refused:
            await pedidos.confirm(pedido.id)
        assert refused.value.extra["shortages"][0]["item_id"] == str(scarce.id)
        session.expunge_all()
        assert (await items.get(plenty.id)).quantity == 10
        assert (await pedidos.get(pedido.id)).status is PedidoStatus.PENDING
        events = await OutboxRepository(session, tenant_id=tenant).events_of(pedido.id)
        assert [e.event_type for e in events] == ["PedidoCreated"]


async def test_the_same_item_on_two_lines_is_reserved_as_one_quantity(
    orders_engine: AsyncEngine,
) -> None:
    tenant = new_tenant()
    async with rolled_back(orders_engine) as session:
        item = await ItemService(session, actor(tenant)).create(_create(quantity=5))
        pedidos = PedidoService(session, actor(tenant))
        lines = [PedidoLineCreate(item_id=item.id, quantity=3)] * 2
        pedido = await pedidos.create(PedidoCreate(customer_id="c", items=lines))
        with pytest.raises(InsufficientStockError) as refused:
            await pedidos.confirm(pedido.id)
        assert refused.value.extra["shortages"][0]["requested"] == 6


async def test_unit_prices_are_snapshots(orders_engine: AsyncEngine) -> None:
    tenant = new_tenant()
    async with rolled_back(orders_engine) as session:
        items = ItemService(session, actor(tenant))
        item = await items.create(_create(amount="10.00"))
        pedidos = PedidoService(session, actor(tenant))
        pedido = await pedidos.create(
            PedidoCreate(
                customer_id="c",
                items=[PedidoLineCreate(item_id=item.id, quantity=3, discount=Decimal("33.33"))],
            )
        )
        await items.update(
            item.id, ItemUpdate.model_validate({"price": {"amount": "99.00", "currency": "BRL"}})
        )
        session.expunge_all()
        again = await pedidos.get(pedido.id)
    assert again.lines[0].unit_price == Decimal("10.00")
    assert again.subtotal == Decimal("30.00")
    assert again.total == Decimal("20.00")  # 30 x 0.6667 = 20.001 -> 20.00


async def test_stock_status_follows_quantity_but_not_past_a_person_s_decision(
    orders_engine: AsyncEngine,
) -> None:
    tenant = new_tenant()
    async with rolled_back(orders_engine) as session:
        items = ItemService(session, actor(tenant))
        item = await items.create(_create(quantity=0))
        assert item.status is ItemStatus.OUT_OF_STOCK
        item = await items.update(item.id, ItemUpdate(quantity=3), if_match=ANY_VERSION)
        assert item.status is ItemStatus.ACTIVE
        item = await items.update(item.id, ItemUpdate(status="inactive"))
        item = await items.update(item.id, ItemUpdate(quantity=0), if_match=ANY_VERSION)
        assert item.status is ItemStatus.INACTIVE
        item = await items.update(item.id, ItemUpdate(status="active"))
        assert item.status is ItemStatus.OUT_OF_STOCK  # active with nothing left to sell


async def test_if_match_and_sku_conflicts(orders_engine: AsyncEngine) -> None:
    tenant = new_tenant()
    async with rolled_back(orders_engine) as session:
        items = ItemService(session, actor(tenant))
        item = await items.create(_create("A"))
        await items.create(_create("B"))
        with pytest.raises(StaleVersionError):
            await items.update(item.id, ItemUpdate(name="x"), if_match=IfMatch.parse('"7"'))
        updated = await items.update(item.id, ItemUpdate(name="x"), if_match=IfMatch.parse('"1"'))
        assert updated.version == 2
        with pytest.raises(SkuTakenError):
            await items.create(_create("B"))
        with pytest.raises(SkuTakenError):
            await items.update(item.id, ItemUpdate(sku="B"))


async def test_lines_change_only_while_pending(orders_engine: AsyncEngine) -> None:
    tenant = new_tenant()
    async with rolled_back(orders_engine) as session:
        item = await ItemService(session, actor(tenant)).create(_create(quantity=9))
        pedidos = PedidoService(session, actor(tenant))
        pedido = await pedidos.create(
            PedidoCreate(customer_id="c", items=[PedidoLineCreate(item_id=item.id, quantity=1)])
        )
        await pedidos.add_line(pedido.id, PedidoLineCreate(item_id=item.id, quantity=2))
        assert [li.line_no for li in pedido.lines] == [1, 2]
        await pedidos.confirm(pedido.id)
        with pytest.raises(IllegalTransitionError) as illegal:
            await pedidos.add_line(pedido.id, PedidoLineCreate(item_id=item.id, quantity=1))
        assert illegal.value.extra["current_status"] == "confirmed"
        with pytest.raises(IllegalTransitionError):
            await pedidos.remove_line(pedido.id, pedido.lines[0].id)
        with pytest.raises(IllegalTransitionError):
            await pedidos.confirm(pedido.id)
