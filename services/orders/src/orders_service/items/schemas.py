"""Item DTOs: what clients send and what they read back."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from typing_extensions import TypedDict

from orders_service._numbers import WholeNumber
from orders_service._text import NoNul
from orders_service.items.models import Item, ItemStatus
from orders_service.money import AmountText, Currency, Money, MoneyIn
from servicekit.core.patterns import TRIMMED, VISIBLE

Sku = Annotated[
    str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", strict=True)
]
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=VISIBLE, strict=True), NoNul]
Description = Annotated[str, Field(max_length=5000, strict=True), NoNul]
Category = Annotated[str, Field(min_length=1, max_length=64, pattern=VISIBLE, strict=True), NoNul]
Tag = Annotated[str, Field(min_length=1, max_length=40, pattern=TRIMMED, strict=True), NoNul]
# Stock is an INTEGER column; strict: "5" and true are not quantities (5.0 is: it is 5).
MAX_QUANTITY = 1_000_000_000
Quantity = Annotated[int, Field(ge=0, le=MAX_QUANTITY, strict=True), WholeNumber]


def _distinct(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(tags))


Tags = Annotated[list[Tag], Field(max_length=20), AfterValidator(_distinct)]


class ItemCreate(BaseModel):
    """POST /items body."""

    model_config = ConfigDict(extra="forbid")

    sku: Sku
    name: Name
    description: Description = ""
    price: MoneyIn
    category: Category
    tags: Tags = Field(default_factory=list)
    quantity: Quantity


def _no_null(schema: dict[str, Any]) -> None:
    """Publish the fields without their null option and null default: None marks "omitted"
    in code, and a null sent explicitly is refused."""
    for field in schema.get("properties", {}).values():
        if field.get("default", 0) is None:
            del field["default"]
        options = field.pop("anyOf", None)
        if options is None:
            continue
        kept = [option for option in options if option != {"type": "null"}]
        if len(kept) == 1:
            field.update(kept[0])
        else:
            field["anyOf"] = kept


class ItemUpdate(BaseModel):
    """PATCH /items/{id} body: any subset of the create fields, plus `status`.

    Omitted fields keep their value; `null` is not a value of any of them (422). `status` takes
    active, inactive or discontinued; out_of_stock follows from the quantity and is not set.
    """

    model_config = ConfigDict(extra="forbid", json_schema_extra=_no_null)

    sku: Sku | None = None
    name: Name | None = None
    description: Description | None = None
    price: MoneyIn | None = None
    category: Category | None = None
    tags: Tags | None = None
    quantity: Quantity | None = None
    status: Literal["active", "inactive", "discontinued"] | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _null_is_not_a_value(cls, value: Any) -> Any:
        # None is the "omitted" default (defaults are not validated); sent explicitly it
        # would mean "clear the field", which no item field allows.
        if value is None:
            raise PydanticCustomError("null_not_allowed", "null is not a value of this field")
        return value

    def given(self) -> dict[str, Any]:
        """The fields the client sent, with their (validated) values."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class StockAdjustment(BaseModel):
    """POST /items/{id}/stock-adjustments body: a signed change of stock and why.

    Relative, so it needs no If-Match: it composes with confirms and other adjustments that
    happened in between. It never takes the quantity below zero (409).
    """

    model_config = ConfigDict(extra="forbid")

    # The schema says what _not_zero enforces, so clients (and generated ones) never send a 0.
    delta: Annotated[
        int,
        Field(
            ge=-1_000_000_000,
            le=1_000_000_000,
            strict=True,
            json_schema_extra={"not": {"const": 0}},
        ),
        WholeNumber,
    ]
    reason: Annotated[str, Field(min_length=1, max_length=200, pattern=VISIBLE, strict=True), NoNul]

    @field_validator("delta")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0:
            raise PydanticCustomError("zero_delta", "delta must not be 0")
        return value


# The columns of the items table that ItemRead shows: not the tenant, the actors or the
# deletion time.
READ_COLUMNS = (
    "id",
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
)


def item_fields(row: Mapping[Any, Any]) -> dict[str, Any]:
    """ItemRead's fields from the READ_COLUMNS of an items row (the one mapping of both)."""
    return {
        "id": row["id"],
        "sku": row["sku"],
        "name": row["name"],
        "description": row["description"],
        "price": Money(amount=row["price_amount"], currency=row["price_currency"]),
        "category": row["category"],
        "tags": list(row["tags"]),
        "quantity": row["quantity"],
        "status": row["status"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "version": row["version"],
    }


class ItemRead(BaseModel):
    """An item as every read and write answers it."""

    id: uuid.UUID
    sku: str
    name: str
    description: str
    price: Money
    category: str
    tags: list[str]
    quantity: int
    status: ItemStatus
    created_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> ItemRead:
        """From the READ_COLUMNS of an items row (a Core row mapping, or an entity's values)."""
        # model_construct: the row was validated on its way in; re-validating it on every
        # read would cost more than serializing it.
        return cls.model_construct(**item_fields(row))

    @classmethod
    def from_model(cls, item: Item) -> ItemRead:
        return cls.from_row({name: getattr(item, name) for name in READ_COLUMNS})


class ItemPage(TypedDict):
    items: list[ItemRead]
    next: str | None


ITEM_PAGE: TypeAdapter[ItemPage] = TypeAdapter(ItemPage)


# ItemRead's fields as a TypedDict, derived from the model: the same types, so the same JSON
# field for field, without building a model per row. (The functional form with computed
# fields: mypy only checks literal ones, hence the Any.)
_typed_dict: Any = TypedDict
_ITEM_JSON = _typed_dict("_ItemJSON", {n: f.annotation for n, f in ItemRead.model_fields.items()})
_ITEM_ROWS_PAGE: TypeAdapter[Any] = TypeAdapter(
    _typed_dict("_ItemRowsPage", {"items": list.__class_getitem__(_ITEM_JSON), "next": str | None})
)


def page_json(rows: Sequence[Mapping[Any, Any]], next_url: str | None) -> bytes:
    """A page of READ_COLUMNS rows as the JSON of ItemPage, without an ItemRead per row: a
    model per row cost more than the serialization itself (profile of GET /items, issue 13).
    A property test holds it byte for byte equal to ITEM_PAGE over ItemRead.from_row."""
    return _ITEM_ROWS_PAGE.dump_json(
        {"items": [item_fields(row) for row in rows], "next": next_url}
    )


ItemSort = Literal[
    "created_at",
    "-created_at",
    "updated_at",
    "-updated_at",
    "price",
    "-price",
    "name",
    "-name",
    "sku",
    "-sku",
]
PriceBound = AmountText


class ItemListQuery(BaseModel):
    """Query parameters of GET /items (unknown parameters are rejected, like unknown fields)."""

    model_config = ConfigDict(extra="forbid")

    category: Category | None = None
    # Amounts of different currencies do not compare: a price bound or a price sort needs
    # `currency`, which also filters the list to that currency.
    currency: Currency | None = None
    min_price: PriceBound | None = None
    max_price: PriceBound | None = None
    available: bool | None = None
    status: ItemStatus | None = None
    tag: Tag | None = None
    q: Annotated[str, Field(min_length=1, max_length=100), NoNul] | None = None
    sort: ItemSort = "-created_at"
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    cursor: Annotated[str, Field(max_length=1024)] | None = None

    @model_validator(mode="after")
    def _prices_compare_within_one_currency(self) -> ItemListQuery:
        by_price = self.min_price is not None or self.max_price is not None
        if (by_price or self.sort.lstrip("-") == "price") and self.currency is None:
            raise PydanticCustomError(
                "currency_required",
                "price bounds and price sorting need currency (prices in different "
                "currencies do not compare)",
            )
        return self
