"""Domain events: one discriminated union, so one adapter writes and reads any of them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from orders_service.money import Money


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    aggregate_type: ClassVar[str]

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    occurred_at: datetime
    tenant_id: str
    actor: str

    @property
    def aggregate_id(self) -> uuid.UUID:
        raise NotImplementedError


class _ItemEvent(_Event):
    aggregate_type: ClassVar[str] = "item"

    item_id: uuid.UUID
    version: int

    @property
    def aggregate_id(self) -> uuid.UUID:
        return self.item_id


class ItemCreated(_ItemEvent):
    event_type: Literal["ItemCreated"] = "ItemCreated"
    sku: str
    name: str
    price: Money
    quantity: int
    status: str


class ItemUpdated(_ItemEvent):
    event_type: Literal["ItemUpdated"] = "ItemUpdated"
    changed: list[str]


class ItemStockAdjusted(_ItemEvent):
    """A relative stock change (POST /items/{id}/stock-adjustments), with its reason."""

    event_type: Literal["ItemStockAdjusted"] = "ItemStockAdjusted"
    delta: int
    quantity: int
    reason: str


class ItemDeleted(_ItemEvent):
    event_type: Literal["ItemDeleted"] = "ItemDeleted"
    sku: str


class StockMovement(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    item_id: uuid.UUID
    quantity: int


class _PedidoEvent(_Event):
    aggregate_type: ClassVar[str] = "pedido"

    pedido_id: uuid.UUID

    @property
    def aggregate_id(self) -> uuid.UUID:
        return self.pedido_id


class PedidoCreated(_PedidoEvent):
    event_type: Literal["PedidoCreated"] = "PedidoCreated"
    customer_id: str
    total: Money
    lines: int


class PedidoConfirmed(_PedidoEvent):
    event_type: Literal["PedidoConfirmed"] = "PedidoConfirmed"
    total: Money
    reserved: list[StockMovement]


class PedidoCancelled(_PedidoEvent):
    event_type: Literal["PedidoCancelled"] = "PedidoCancelled"
    previous_status: str
    reason: str | None
    released: list[StockMovement]


DomainEvent = Annotated[
    ItemCreated
    | ItemUpdated
    | ItemStockAdjusted
    | ItemDeleted
    | PedidoCreated
    | PedidoConfirmed
    | PedidoCancelled,
    Field(discriminator="event_type"),
]

# Module level: the validator and serializer of the union are built once per process.
DOMAIN_EVENT: TypeAdapter[DomainEvent] = TypeAdapter(DomainEvent)
