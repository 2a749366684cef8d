"""Item specifications: each evaluates an Item in memory and compiles to the same SQL rule."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import ColumnElement, and_, true
from sqlmodel import col

from orders_service._text import fold
from orders_service.items.models import Item, ItemStatus, item_search_text
from servicekit.data.specification import Specification


class ItemTenantSpec(Specification[Item]):
    """Items of one tenant (every item query is narrowed by this)."""

    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id

    def is_satisfied_by(self, candidate: Item) -> bool:
        return candidate.tenant_id == self.tenant_id

    def to_sql(self) -> ColumnElement[bool]:
        return col(Item.tenant_id) == self.tenant_id


class ItemStatusSpec(Specification[Item]):
    """Items in one status."""

    def __init__(self, status: ItemStatus) -> None:
        self.status = ItemStatus(status)

    def is_satisfied_by(self, candidate: Item) -> bool:
        return candidate.status == self.status

    def to_sql(self) -> ColumnElement[bool]:
        return col(Item.status) == self.status


class ItemActiveSpec(ItemStatusSpec):
    """Items on sale (status active)."""

    def __init__(self) -> None:
        super().__init__(ItemStatus.ACTIVE)


class ItemInStockSpec(Specification[Item]):
    """Items with at least one unit in stock."""

    def is_satisfied_by(self, candidate: Item) -> bool:
        return candidate.quantity > 0

    def to_sql(self) -> ColumnElement[bool]:
        return col(Item.quantity) > 0


class ItemAvailableSpec(Specification[Item]):
    """Items a customer can order now: active and in stock."""

    def __init__(self) -> None:
        self._rule = ItemActiveSpec() & ItemInStockSpec()

    def is_satisfied_by(self, candidate: Item) -> bool:
        return self._rule.is_satisfied_by(candidate)

    def to_sql(self) -> ColumnElement[bool]:
        return self._rule.to_sql()


class ItemCategorySpec(Specification[Item]):
    """Items of one category (exact match)."""

    def __init__(self, category: str) -> None:
        self.category = category

    def is_satisfied_by(self, candidate: Item) -> bool:
        return candidate.category == self.category

    def to_sql(self) -> ColumnElement[bool]:
        return col(Item.category) == self.category


class ItemCurrencySpec(Specification[Item]):
    """Items priced in one currency: price bounds and price order compare within it."""

    def __init__(self, currency: str) -> None:
        self.currency = currency

    def is_satisfied_by(self, candidate: Item) -> bool:
        return candidate.price_currency == self.currency

    def to_sql(self) -> ColumnElement[bool]:
        return col(Item.price_currency) == self.currency


class ItemPriceRangeSpec(Specification[Item]):
    """Items priced within [minimum, maximum] (either bound optional, both inclusive).

    The bounds compare amounts only; a caller that mixes currencies narrows by currency too.
    """

    def __init__(self, minimum: Decimal | None = None, maximum: Decimal | None = None) -> None:
        self.minimum = minimum
        self.maximum = maximum

    def is_satisfied_by(self, candidate: Item) -> bool:
        if self.minimum is not None and candidate.price_amount < self.minimum:
            return False
        return self.maximum is None or candidate.price_amount <= self.maximum

    def to_sql(self) -> ColumnElement[bool]:
        price = col(Item.price_amount)
        clauses: list[ColumnElement[bool]] = [true()]
        if self.minimum is not None:
            clauses.append(price >= self.minimum)
        if self.maximum is not None:
            clauses.append(price <= self.maximum)
        return and_(*clauses)


class ItemTagSpec(Specification[Item]):
    """Items carrying one tag (exact match; `tags @> ARRAY[tag]` uses the GIN index)."""

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def is_satisfied_by(self, candidate: Item) -> bool:
        return self.tag in candidate.tags

    def to_sql(self) -> ColumnElement[bool]:
        return col(Item.tags).contains([self.tag])


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class ItemTextSpec(Specification[Item]):
    """Items whose name, SKU or description contains `text`, ignoring case and accents.

    Both sides compare folded text (orders_service._text.fold, defined once): in memory the
    item's fields are folded on the spot, in SQL the `search_text` column holds the same
    folding, stored on every write. The database only runs a plain LIKE on it, so the result
    does not depend on the server's locale (docs/adr/0004-text-search-folding.md).
    """

    def __init__(self, text: str) -> None:
        self.text = text

    def is_satisfied_by(self, candidate: Item) -> bool:
        return fold(self.text) in item_search_text(candidate)

    def to_sql(self) -> ColumnElement[bool]:
        pattern = "%" + _like_escape(fold(self.text)) + "%"
        return col(Item.search_text).like(pattern, escape="\\")
