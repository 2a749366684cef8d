"""Pedido DTOs: what clients send and what they read back."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    FailFast,
    Field,
    PlainSerializer,
    TypeAdapter,
    WithJsonSchema,
    computed_field,
    model_validator,
)
from pydantic_core import PydanticCustomError
from typing_extensions import TypedDict

from orders_service._numbers import WholeNumber
from orders_service._text import NoNul
from orders_service.money import AmountText, Currency, Money, format_amount
from orders_service.pedidos.models import (
    Pedido,
    PedidoStatus,
    line_subtotal,
    line_total,
    sum_amounts,
)

CustomerId = Annotated[
    str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$", strict=True)
]
LineQuantity = Annotated[int, Field(gt=0, le=1_000_000, strict=True), WholeNumber]
# A percentage, 0 to 100 with at most two decimals: a whole JSON number or decimal text.
DISCOUNT_PATTERN = r"^(100(\.0{1,2})?|\d{1,2}(\.\d{1,2})?)$"
_DISCOUNT_TEXT = re.compile(DISCOUNT_PATTERN)


def _discount_value(value: Any) -> Any:
    # Fractions travel as text, like amounts: a fractional JSON number went through a binary
    # float, and no schema can say which floats have two decimals ("12.5", not 12.5).
    if isinstance(value, Decimal) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _DISCOUNT_TEXT.match(value):
        return value
    raise PydanticCustomError(
        "discount_type", 'discount must be a whole number or decimal text such as "12.5"'
    )


Discount = Annotated[
    Decimal,
    BeforeValidator(_discount_value),
    Field(ge=0, le=100, max_digits=5, decimal_places=2, allow_inf_nan=False),
    PlainSerializer(format_amount, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 0, "maximum": 100},
                {"type": "string", "pattern": DISCOUNT_PATTERN, "examples": ["12.5"]},
            ]
        },
        mode="validation",
    ),
]
MAX_LINES = 100


class PedidoLineCreate(BaseModel):
    """One line of a new pedido, and the body of POST /pedidos/{id}/items."""

    model_config = ConfigDict(extra="forbid")

    item_id: uuid.UUID
    quantity: LineQuantity
    discount: Discount = Decimal(0)


# FailFast: a list of a hundred lines with a bad first line answers with that one error
# instead of validating (and reporting) the other ninety-nine.
LineList = Annotated[list[PedidoLineCreate], FailFast(), Field(min_length=1, max_length=MAX_LINES)]


class PedidoCreate(BaseModel):
    """POST /pedidos body."""

    model_config = ConfigDict(extra="forbid")

    customer_id: CustomerId
    items: LineList


class PedidoCancel(BaseModel):
    """Optional body of POST /pedidos/{id}/cancel."""

    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(min_length=1, max_length=500, strict=True), NoNul] | None = None


class PedidoLineRead(BaseModel):
    id: uuid.UUID
    item_id: uuid.UUID
    quantity: int
    unit_price: Money
    discount: Discount


class PedidoRead(BaseModel):
    """A pedido with its lines; the totals are computed from the lines, once per instance."""

    id: uuid.UUID
    status: PedidoStatus
    customer_id: str
    currency: str = Field(exclude=True)
    items: list[PedidoLineRead]
    created_at: datetime
    updated_at: datetime
    version: int

    @computed_field  # type: ignore[prop-decorator]
    @cached_property
    def subtotal(self) -> Money:
        """Sum of quantity x unit price, before discounts."""
        amount = sum_amounts(
            line_subtotal(li.unit_price["amount"], li.quantity) for li in self.items
        )
        return Money(amount=amount, currency=self.currency)

    @computed_field  # type: ignore[prop-decorator]
    @cached_property
    def total(self) -> Money:
        """Sum of the lines after their discounts, each line rounded half up to cents."""
        amount = sum_amounts(
            line_total(li.unit_price["amount"], li.quantity, li.discount) for li in self.items
        )
        return Money(amount=amount, currency=self.currency)

    @computed_field  # type: ignore[prop-decorator]
    @cached_property
    def items_count(self) -> int:
        """Units across all lines."""
        return sum(li.quantity for li in self.items)

    @classmethod
    def from_model(cls, pedido: Pedido) -> PedidoRead:
        # model_construct: rows were validated on their way in (see ItemRead.from_model).
        lines = [
            PedidoLineRead.model_construct(
                id=line.id,
                item_id=line.item_id,
                quantity=line.quantity,
                unit_price=Money(amount=line.unit_price, currency=pedido.currency),
                discount=line.discount,
            )
            for line in pedido.lines
        ]
        return cls.model_construct(
            id=pedido.id,
            status=pedido.status,
            customer_id=pedido.customer_id,
            currency=pedido.currency,
            items=lines,
            created_at=pedido.created_at,
            updated_at=pedido.updated_at,
            version=pedido.version,
        )


class PedidoPage(TypedDict):
    items: list[PedidoRead]
    next: str | None


PEDIDO_PAGE: TypeAdapter[PedidoPage] = TypeAdapter(PedidoPage)

PedidoSort = Literal["created_at", "-created_at", "updated_at", "-updated_at"]
MinTotal = AmountText


class PedidoListQuery(BaseModel):
    """Query parameters of GET /pedidos (unknown parameters are rejected)."""

    model_config = ConfigDict(extra="forbid")

    status: PedidoStatus | None = None
    customer_id: CustomerId | None = None
    # Totals in different currencies do not compare: min_total needs `currency`, which also
    # filters the list to that currency.
    currency: Currency | None = None
    min_total: MinTotal | None = None
    sort: PedidoSort = "-created_at"
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    cursor: Annotated[str, Field(max_length=1024)] | None = None

    @model_validator(mode="after")
    def _totals_compare_within_one_currency(self) -> PedidoListQuery:
        if self.min_total is not None and self.currency is None:
            raise PydanticCustomError(
                "currency_required",
                "min_total needs currency (totals in different currencies do not compare)",
            )
        return self
