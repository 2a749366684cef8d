"""Laws of the tenant repository on real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from orders_service.items.models import Item
from orders_service.items.repository import ItemRepository
from servicekit.data.repository import SortKey
from tests.property.orders.strategies import CATEGORIES, TAGS, cents, items, texts
from tests.support.ids import new_tenant
from tests.support.orders import rolled_back

FIELDS = (
    "sku",
    "name",
    "description",
    "price_amount",
    "price_currency",
    "category",
    "tags",
    "quantity",
    "status",
    "created_at",
    "updated_at",
    "version",
    "deleted_at",
)


def _state(item: Item) -> dict[str, Any]:
    return {field: getattr(item, field) for field in FIELDS}


async def _fresh(repo: ItemRepository, item_id: object) -> Item | None:
    """Read through a cleared identity map, so the row really comes from the database."""
    repo.session.expunge_all()
    return await repo.get(item_id)


@given(data=st.data())
async def test_create_then_get_returns_an_equal_entity(
    orders_engine: AsyncEngine, data: st.DataObject
) -> None:
    """For any item, get(add(item).id) equals the item that was added."""
    tenant = new_tenant()
    item = data.draw(items(tenant))
    expected = _state(item)
    async with rolled_back(orders_engine) as session:
        repo = ItemRepository(session, tenant_id=tenant)
        await repo.add(item)
        loaded = await _fresh(repo, item.id)
        assert loaded is not None
        assert _state(loaded) == expected


updates = st.fixed_dictionaries(
    {},
    optional={
        "name": texts,
        "description": texts,
        "price_amount": cents,
        "category": st.sampled_from(CATEGORIES),
        "tags": st.lists(st.sampled_from(TAGS), unique=True),
        "quantity": st.integers(min_value=0, max_value=1000),
    },
)


@given(data=st.data(), changes=updates)
async def test_update_then_get_returns_the_update(
    orders_engine: AsyncEngine, data: st.DataObject, changes: dict[str, Any]
) -> None:
    """For any item and any changes, get after update(changes) shows the changes and version+1."""
    tenant = new_tenant()
    item = data.draw(items(tenant))
    async with rolled_back(orders_engine) as session:
        repo = ItemRepository(session, tenant_id=tenant)
        await repo.add(item)
        expected = {**_state(item), **changes, "version": item.version + 1}
        await repo.update(item, changes)
        loaded = await _fresh(repo, item.id)
        assert loaded is not None
        assert _state(loaded) == expected


@given(data=st.data())
async def test_soft_deleted_entities_leave_get_and_list_but_stay_in_the_table(
    orders_engine: AsyncEngine, data: st.DataObject
) -> None:
    """For any items and any subset deleted: get and list no longer see the deleted ones, the
    others are untouched, and every deleted row is still in the table with deleted_at set."""
    tenant = new_tenant()
    population = data.draw(st.lists(items(tenant), min_size=1, max_size=10))
    doomed = data.draw(st.sets(st.sampled_from([i.id for i in population])))
    async with rolled_back(orders_engine) as session:
        repo = ItemRepository(session, tenant_id=tenant)
        for item in population:
            await repo.add(item)
        now = datetime.now(UTC)
        for item in population:
            if item.id in doomed:
                await repo.soft_delete(item, at=now)
        session.expunge_all()
        for item in population:
            assert (await repo.get(item.id) is None) == (item.id in doomed)
            assert (await repo.get(item.id, include_deleted=True)) is not None
        listed = await repo.list_by_spec(sort=SortKey("created_at"), limit=100)
        assert {i.id for i in listed.items} == {i.id for i in population} - doomed
        assert await repo.count() == len(population) - len(doomed)
        rows = await session.execute(
            text("SELECT id, deleted_at FROM items WHERE tenant_id = :t"), {"t": tenant}
        )
        in_table = {row.id: row.deleted_at for row in rows}
        assert set(in_table) == {i.id for i in population}
        assert {i for i, deleted_at in in_table.items() if deleted_at is not None} == doomed
