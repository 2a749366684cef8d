"""The Core item read (items.queries) narrows exactly as the repository does.

`live_item_row` writes the repository's narrowing (this tenant, live rows) out with
parameters, so that its statement is built once; these laws keep the two from drifting apart.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from orders_service.items.models import Item
from orders_service.items.queries import live_item_row
from orders_service.items.repository import ItemRepository
from orders_service.items.schemas import ITEM_PAGE, READ_COLUMNS, ItemRead, page_json
from servicekit.data.repository import SortKey
from servicekit.data.specification import Specification
from tests.property.orders.strategies import item_specs, items
from tests.support.ids import new_tenant
from tests.support.orders import rolled_back


@given(data=st.data())
async def test_core_read_finds_exactly_the_rows_the_repository_get_finds_and_renders_them_alike(
    orders_engine: AsyncEngine, data: st.DataObject
) -> None:
    """For items of two tenants, some soft-deleted, and every (tenant, id) pair plus an unknown
    id: the Core read returns a row iff ItemRepository.get returns the entity, and both render
    to the same ItemRead JSON."""
    tenants = [new_tenant(), new_tenant()]
    async with rolled_back(orders_engine) as session:
        created: list[Item] = []
        for tenant in tenants:
            for item in data.draw(st.lists(items(tenant), min_size=1, max_size=4), label=tenant):
                created.append(await ItemRepository(session, tenant_id=tenant).add(item))
        for item in created:
            if data.draw(st.booleans(), label=f"delete {item.sku}"):
                await ItemRepository(session, tenant_id=item.tenant_id).soft_delete(
                    item, at=datetime.now(UTC)
                )
        connection = await session.connection()
        ids = [item.id for item in created] + [uuid.uuid4()]
        for tenant in tenants:
            repository = ItemRepository(session, tenant_id=tenant)
            for item_id in ids:
                entity = await repository.get(item_id)
                row = await live_item_row(connection, tenant_id=tenant, item_id=item_id)
                assert (row is None) == (entity is None)
                if entity is not None and row is not None:
                    assert ItemRead.from_row(row).model_dump_json() == (
                        ItemRead.from_model(entity).model_dump_json()
                    )


@given(data=st.data())
async def test_row_pages_equal_entity_pages_page_by_page_for_any_spec_sort_and_size(
    orders_engine: AsyncEngine, data: st.DataObject
) -> None:
    """For any items (some deleted), specification, sort and page size: following the cursors
    of list_rows_by_spec gives the same rows, page by page and cursor by cursor, as
    list_by_spec, and each row, and each page's JSON, renders as its entities do."""
    tenant = new_tenant()
    population = data.draw(st.lists(items(tenant), min_size=0, max_size=8), label="items")
    spec = data.draw(item_specs, label="spec")
    sort = SortKey.parse(data.draw(st.sampled_from(sorted(ItemRepository.sortable)), label="s"))
    if data.draw(st.booleans(), label="descending"):
        sort = SortKey(sort.field, descending=True)
    limit = data.draw(st.integers(min_value=1, max_value=4), label="limit")
    async with rolled_back(orders_engine) as session:
        repo = ItemRepository(session, tenant_id=tenant)
        for item in population:
            await repo.add(item)
        for item in population[::3]:
            await repo.soft_delete(item, at=datetime.now(UTC))
        cursor: str | None = None
        for _ in range(len(population) + 2):
            entities = await repo.list_by_spec(spec, sort=sort, cursor=cursor, limit=limit)
            rows = await repo.list_rows_by_spec(
                spec, columns=READ_COLUMNS, sort=sort, cursor=cursor, limit=limit
            )
            assert [row["id"] for row in rows.items] == [e.id for e in entities.items]
            assert rows.next_cursor == entities.next_cursor
            for row, entity in zip(rows.items, entities.items, strict=True):
                assert ItemRead.from_row(row) == ItemRead.from_model(entity)
            # The page the list answers, rendered from rows, is byte for byte the ItemPage
            # of the entities (field order, money text, timestamps, status).
            next_url = None if rows.next_cursor is None else f"/x?cursor={rows.next_cursor}"
            assert page_json(rows.items, next_url) == ITEM_PAGE.dump_json(
                {"items": [ItemRead.from_model(e) for e in entities.items], "next": next_url}
            )
            cursor = rows.next_cursor
            if cursor is None:
                break
        assert cursor is None


_IN_MEMORY_SORTS = {"created_at": "created_at", "updated_at": "updated_at", "price": "price_amount"}


async def _page_through(
    repo: ItemRepository, spec: Specification[Item], sort: SortKey, limit: int, bound: int
) -> list[uuid.UUID]:
    seen: list[uuid.UUID] = []
    cursor: str | None = None
    for _ in range(bound):
        page = await repo.list_rows_by_spec(
            spec, columns=READ_COLUMNS, sort=sort, cursor=cursor, limit=limit
        )
        seen += [row["id"] for row in page.items]
        cursor = page.next_cursor
        if cursor is None:
            return seen
    raise AssertionError("the cursors did not reach the end of the list")


@given(data=st.data())
async def test_cursor_pages_visit_each_selected_row_once_in_order_with_built_or_kept_statements(
    orders_engine: AsyncEngine, data: st.DataObject
) -> None:
    """Page statements are kept by shape (repository class, tenant, spec, sort, cursor or
    not, limit) and run with each cursor's position bound. For any items of two tenants (some
    deleted), spec, non-text sort and page size: paging through visits exactly the tenant's
    live items the spec accepts in memory, once each, in (key, id) order; and again, the same,
    when every statement is a kept one run with other cursors, after the other tenant's."""
    tenants = [new_tenant(), new_tenant()]
    population = {
        tenant: data.draw(st.lists(items(tenant), max_size=8), label=tenant) for tenant in tenants
    }
    spec = data.draw(item_specs, label="spec")
    field = data.draw(st.sampled_from(sorted(_IN_MEMORY_SORTS)), label="sort")
    sort = SortKey(field, descending=data.draw(st.booleans(), label="descending"))
    limit = data.draw(st.integers(min_value=1, max_value=3), label="limit")
    async with rolled_back(orders_engine) as session:
        expected: dict[str, list[uuid.UUID]] = {}
        for tenant, population_of in population.items():
            repo = ItemRepository(session, tenant_id=tenant)
            for item in population_of:
                await repo.add(item)
            for item in population_of[::3]:
                await repo.soft_delete(item, at=datetime.now(UTC))
            live = [i for i in population_of if i.deleted_at is None and spec.is_satisfied_by(i)]
            live.sort(
                key=lambda i: (getattr(i, _IN_MEMORY_SORTS[field]), i.id),
                reverse=sort.descending,
            )
            expected[tenant] = [i.id for i in live]
        bound = max(len(p) for p in population.values()) + 2
        for tenant in [*tenants, *tenants]:  # the second round runs kept statements only
            repo = ItemRepository(session, tenant_id=tenant)
            assert await _page_through(repo, spec, sort, limit, bound) == expected[tenant]
