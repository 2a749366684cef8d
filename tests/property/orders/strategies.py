"""Hypothesis strategies for the orders domain: items, pedidos and composed specifications."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import strategies as st

from orders_service.items.models import Item, ItemStatus
from orders_service.items.specifications import (
    ItemActiveSpec,
    ItemAvailableSpec,
    ItemCategorySpec,
    ItemInStockSpec,
    ItemPriceRangeSpec,
    ItemStatusSpec,
    ItemTagSpec,
    ItemTextSpec,
)
from orders_service.pedidos.models import Pedido, PedidoLine, PedidoStatus
from orders_service.pedidos.specifications import (
    PedidoConfirmedSpec,
    PedidoCustomerSpec,
    PedidoMinTotalSpec,
    PedidoPendingSpec,
    PedidoStatusSpec,
)
from servicekit.data.specification import Specification
from tests.support.orders import make_item
from tests.support.specifications import composed

CATEGORIES = ["tools", "kitchen", "garden"]
TAGS = ["red", "blue", "sale"]
# Small alphabets make matches likely; LIKE's metacharacters and a non-ASCII letter are in
# there on purpose (escaping and case folding must agree with Python).
TEXT_ALPHABET = "abAB%_\\Éé "

cents = st.integers(min_value=0, max_value=20_000).map(lambda c: Decimal(c) / 100)
texts = st.text(TEXT_ALPHABET, max_size=8)


@st.composite
def items(draw: st.DrawFn, tenant_id: str) -> Item:
    return make_item(
        tenant_id=tenant_id,
        sku="S" + draw(st.text("abAB%_", max_size=6)) + draw(st.uuids()).hex[:8],
        name=draw(texts),
        description=draw(texts),
        price=draw(cents),
        category=draw(st.sampled_from(CATEGORIES)),
        tags=draw(st.lists(st.sampled_from(TAGS), unique=True, max_size=3)),
        quantity=draw(st.integers(min_value=0, max_value=3)),
        status=draw(st.sampled_from(list(ItemStatus))),
    )


def item_leaf_specs() -> st.SearchStrategy[Specification[Item]]:
    return st.one_of(
        st.just(ItemActiveSpec()),
        st.just(ItemInStockSpec()),
        st.just(ItemAvailableSpec()),
        st.sampled_from(list(ItemStatus)).map(ItemStatusSpec),
        st.sampled_from(CATEGORIES).map(ItemCategorySpec),
        st.sampled_from(TAGS).map(ItemTagSpec),
        st.builds(ItemPriceRangeSpec, st.none() | cents, st.none() | cents),
        st.text(TEXT_ALPHABET, min_size=1, max_size=3).map(ItemTextSpec),
    )


item_specs = composed(item_leaf_specs())


def pedido_leaf_specs() -> st.SearchStrategy[Specification[Pedido]]:
    return st.one_of(
        st.just(PedidoPendingSpec()),
        st.just(PedidoConfirmedSpec()),
        st.sampled_from(list(PedidoStatus)).map(PedidoStatusSpec),
        st.sampled_from(["c1", "c2"]).map(PedidoCustomerSpec),
        st.integers(min_value=0, max_value=30_000).map(
            lambda c: PedidoMinTotalSpec(Decimal(c) / 100)
        ),
    )


pedido_specs = composed(pedido_leaf_specs())


discounts = st.integers(min_value=0, max_value=10_000).map(lambda c: Decimal(c) / 100)


@st.composite
def pedidos(draw: st.DrawFn, tenant_id: str, item_id: uuid.UUID) -> Pedido:
    """A pedido of `tenant_id` whose lines all name `item_id` (totals are what vary)."""
    now = datetime.now(UTC)
    lines = [
        PedidoLine(
            item_id=item_id,
            line_no=n,
            quantity=draw(st.integers(min_value=1, max_value=5)),
            unit_price=draw(cents),
            discount=draw(discounts),
        )
        for n in range(1, draw(st.integers(min_value=0, max_value=4)) + 1)
    ]
    return Pedido(
        tenant_id=tenant_id,
        customer_id=draw(st.sampled_from(["c1", "c2"])),
        status=draw(st.sampled_from(list(PedidoStatus))),
        currency="BRL",
        created_at=now,
        updated_at=now,
        created_by="tester",
        updated_by="tester",
        lines=lines,
    )
