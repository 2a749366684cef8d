"""Laws of composed specifications, in memory and in the database."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from decimal import Decimal

from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from orders_service._text import fold
from orders_service.items.models import Item
from orders_service.items.repository import ItemRepository
from orders_service.items.specifications import ItemTextSpec
from orders_service.pedidos.models import Pedido
from orders_service.pedidos.repository import PedidoRepository
from orders_service.pedidos.specifications import PedidoMinTotalSpec
from servicekit.data.repository import SortKey
from servicekit.data.specification import Specification
from tests.property.orders.strategies import item_specs, items, pedido_specs, pedidos
from tests.support.ids import new_tenant
from tests.support.orders import make_item, rolled_back

Law = Callable[[Specification[Item], Specification[Item]], tuple[Specification[Item], ...]]

# Each law: two specifications that must select the same items.
LAWS: dict[str, Law] = {
    "A&B == B&A": lambda a, b: (a & b, b & a),
    "A|B == B|A": lambda a, b: (a | b, b | a),
    "~~A == A": lambda a, b: (~~a, a),
    "~(A&B) == ~A|~B": lambda a, b: (~(a & b), ~a | ~b),
    "~(A|B) == ~A&~B": lambda a, b: (~(a | b), ~a & ~b),
}

TENANT = "spec-laws"
CENT_STEPS = (Decimal(0), Decimal("0.01"))


def _selected(spec: Specification[Item], population: Sequence[Item]) -> set[object]:
    return {item.id for item in population if spec.is_satisfied_by(item)}


@given(population=st.lists(items(TENANT), max_size=25), a=item_specs, b=item_specs)
def test_commutativity_double_negation_and_de_morgan_hold_in_memory(
    population: list[Item], a: Specification[Item], b: Specification[Item]
) -> None:
    """For any items and specs A, B: A&B == B&A, A|B == B|A, ~~A == A, and De Morgan's laws."""
    for law, sides in LAWS.items():
        left, right = sides(a, b)
        assert _selected(left, population) == _selected(right, population), law


async def _rows(repo: ItemRepository, spec: Specification[Item]) -> set[object]:
    page = await repo.list_by_spec(spec, sort=SortKey("created_at"), limit=1000)
    return {item.id for item in page.items}


def _accented_population() -> list[Item]:
    return [
        make_item(tenant_id=TENANT, name=name, description=description)
        for name, description in (("é", ""), ("E", ""), ("Édredon", "ÉDREDON"), ("x", "b"))
    ]


# Found once on the embedded server initialised with LC_ALL=C (lower() folded ASCII only):
# kept as explicit examples, so every run checks them whatever the seed.
@example(population=_accented_population(), a=ItemTextSpec(text="É"), b=ItemTextSpec("e"))
@example(population=_accented_population(), a=ItemTextSpec("édredon"), b=~ItemTextSpec("ÉD"))
@given(population=st.lists(items(TENANT), max_size=25), a=item_specs, b=item_specs)
async def test_database_selects_exactly_what_is_satisfied_by_accepts(
    orders_engine: AsyncEngine,
    population: list[Item],
    a: Specification[Item],
    b: Specification[Item],
) -> None:
    """For any items and any composed spec S, the rows SQL(S) returns are exactly the items
    S.is_satisfied_by accepts (no more, no fewer), and the laws hold for the SQL forms too."""
    tenant = new_tenant()  # its own tenant per example, whatever else the database holds
    for item in population:
        item.tenant_id = tenant
    async with rolled_back(orders_engine) as session:
        repo = ItemRepository(session, tenant_id=tenant)
        for item in population:
            await repo.add(item)
        for spec in (a, b, a & b, a | b, ~a):
            assert await _rows(repo, spec) == _selected(spec, population), spec
            assert await repo.count(spec) == len(_selected(spec, population))
        for law, sides in LAWS.items():
            left, right = sides(a, b)
            assert await _rows(repo, left) == await _rows(repo, right), law


@given(st.text())
def test_fold_is_idempotent(text: str) -> None:
    """Law: fold(fold(s)) == fold(s), so a stored folded text and a folded query compare alike."""
    assert fold(fold(text)) == fold(text)


@given(st.text("abcdeéÉèÈêEÊœŒßẞ", max_size=6))
def test_fold_ignores_case_and_accents(text: str) -> None:
    """Law: fold(s) == fold(upper(s)) == fold(s without accents) for accented Latin letters."""
    plain = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    assert fold(text) == fold(text.upper()) == fold(plain)


@given(data=st.data(), spec=pedido_specs)
async def test_pedido_specs_select_in_sql_what_they_accept_in_memory(
    orders_engine: AsyncEngine, data: st.DataObject, spec: Specification[Pedido]
) -> None:
    """For any pedidos and any composed pedido spec S (min total included, whose SQL form is an
    aggregate over the lines), SQL(S) returns exactly the pedidos S.is_satisfied_by accepts."""
    tenant = new_tenant()
    async with rolled_back(orders_engine) as session:
        item = make_item(tenant_id=tenant)
        await ItemRepository(session, tenant_id=tenant).add(item)
        population = data.draw(st.lists(pedidos(tenant, item.id), max_size=12))
        repo = PedidoRepository(session, tenant_id=tenant)
        for pedido in population:
            await repo.add(pedido)
        # Thresholds at each pedido's exact total (and a cent above) probe the rounding.
        boundaries: list[Specification[Pedido]] = [
            PedidoMinTotalSpec(p.total + delta) for p in population for delta in CENT_STEPS
        ]
        for candidate in [spec, *boundaries]:
            page = await repo.list_by_spec(candidate, sort=SortKey("created_at"), limit=1000)
            expected = {p.id for p in population if candidate.is_satisfied_by(p)}
            assert {p.id for p in page.items} == expected, candidate
