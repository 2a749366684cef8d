"""Pedido use cases: create, change lines while pending, and walk the status machine.

Locking: a use case that changes stock locks the pedido row first, then the item rows in
ascending id order (`ItemRepository.lock_many`). Every writer takes locks in that order, so
concurrent confirms and cancels queue on each other instead of deadlocking, and a confirm
decides on stock that nobody else can change before it commits: stock is never oversold.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from orders_service._paging import list_page
from orders_service.context import Actor
from orders_service.errors import (
    EmptyPedidoError,
    IllegalTransitionError,
    InsufficientStockError,
    InvalidLinesError,
    PedidoLineNotFoundError,
    PedidoNotFoundError,
    TooManyLinesError,
)
from orders_service.items.models import Item, ItemStatus, status_for_stock
from orders_service.items.repository import ItemRepository
from orders_service.items.specifications import ItemActiveSpec
from orders_service.money import Money
from orders_service.outbox.repository import OutboxRepository
from orders_service.outbox.schemas import (
    ItemUpdated,
    PedidoCancelled,
    PedidoConfirmed,
    PedidoCreated,
    StockMovement,
)
from orders_service.pedidos.models import (
    HOLDS_STOCK,
    TRANSITIONS,
    Pedido,
    PedidoLine,
    PedidoStatus,
)
from orders_service.pedidos.repository import PedidoRepository
from orders_service.pedidos.schemas import (
    MAX_LINES,
    PedidoCreate,
    PedidoLineCreate,
    PedidoListQuery,
)
from orders_service.pedidos.specifications import (
    PedidoCurrencySpec,
    PedidoCustomerSpec,
    PedidoMinTotalSpec,
    PedidoStatusSpec,
)
from servicekit.data.repository import Page
from servicekit.data.specification import Specification, and_spec

# Items a confirm may take stock from: on sale, or on sale with nothing left (the stock check
# then names the shortage). Inactive and discontinued items are not sold.
_SELLABLE = frozenset({ItemStatus.ACTIVE, ItemStatus.OUT_OF_STOCK})


def list_spec(query: PedidoListQuery) -> Specification[Pedido]:
    parts: list[Specification[Pedido]] = []
    if query.status is not None:
        parts.append(PedidoStatusSpec(query.status))
    if query.customer_id is not None:
        parts.append(PedidoCustomerSpec(query.customer_id))
    if query.currency is not None:
        parts.append(PedidoCurrencySpec(query.currency))
    if query.min_total is not None:
        parts.append(PedidoMinTotalSpec(query.min_total))
    return and_spec(*parts)


def _quantities(lines: Iterable[PedidoLine]) -> Counter[uuid.UUID]:
    needed: Counter[uuid.UUID] = Counter()
    for line in lines:
        needed[line.item_id] += line.quantity
    return needed


class PedidoService:
    def __init__(self, session: AsyncSession, actor: Actor) -> None:
        self.actor = actor
        self.pedidos = PedidoRepository(session, tenant_id=actor.tenant_id)
        self.items = ItemRepository(session, tenant_id=actor.tenant_id)
        self.outbox = OutboxRepository(session, tenant_id=actor.tenant_id)

    # -- reads ---------------------------------------------------------------------------

    async def get(self, pedido_id: uuid.UUID) -> Pedido:
        pedido = await self.pedidos.get(pedido_id)
        if pedido is None:
            raise PedidoNotFoundError(pedido_id)
        return pedido

    async def list_page(self, query: PedidoListQuery) -> Page[Pedido]:
        return await list_page(self.pedidos, list_spec(query), query)

    # -- lines -----------------------------------------------------------------------------

    async def _priced_lines(
        self,
        wanted: Sequence[PedidoLineCreate],
        *,
        currency: str | None,
        first_line_no: int,
        location: str,
    ) -> tuple[list[PedidoLine], str]:
        """Lines with unit prices snapshotted from live, active items of this tenant.

        Every line is checked before anything is written; the 422 lists each bad line.
        """
        found = await self.items.get_many([line.item_id for line in wanted])
        active = ItemActiveSpec()
        errors: list[dict[str, Any]] = []
        lines: list[PedidoLine] = []

        def reject(index: int, kind: str, msg: str) -> None:
            # The shape of a validation problem's errors, so clients parse both alike.
            field = ["items", index, "item_id"] if location == "items" else ["item_id"]
            errors.append(
                {
                    # Text parts, as servicekit's validation problems have them (the index too).
                    "loc": ["body", *(str(part) for part in field)],
                    "field": ".".join(str(part) for part in field),
                    "msg": msg,
                    "type": kind,
                }
            )

        for index, want in enumerate(wanted):
            item = found.get(want.item_id)
            if item is None:
                reject(index, "item_not_found", "no such item")
                continue
            if not active.is_satisfied_by(item):
                reject(index, "item_not_active", f"item is {item.status.value}, not active")
                continue
            currency = currency or item.price_currency
            if item.price_currency != currency:
                reject(
                    index,
                    "currency_mismatch",
                    f"item is priced in {item.price_currency}, the pedido in {currency}",
                )
                continue
            lines.append(
                PedidoLine(
                    item_id=item.id,
                    line_no=first_line_no + index,
                    quantity=want.quantity,
                    unit_price=item.price_amount,
                    discount=want.discount,
                )
            )
        if errors or currency is None:
            raise InvalidLinesError(errors)
        return lines, currency

    async def create(self, data: PedidoCreate) -> Pedido:
        lines, currency = await self._priced_lines(
            data.items, currency=None, first_line_no=1, location="items"
        )
        now = datetime.now(UTC)
        pedido = Pedido(
            tenant_id=self.actor.tenant_id,
            customer_id=data.customer_id,
            currency=currency,
            created_at=now,
            updated_at=now,
            created_by=self.actor.subject,
            updated_by=self.actor.subject,
            lines=lines,
        )
        await self.pedidos.add(pedido)
        await self.outbox.record(
            PedidoCreated(
                occurred_at=now,
                tenant_id=pedido.tenant_id,
                actor=self.actor.subject,
                pedido_id=pedido.id,
                customer_id=pedido.customer_id,
                total=Money(amount=pedido.total, currency=pedido.currency),
                lines=len(lines),
            )
        )
        return pedido

    async def _locked(self, pedido_id: uuid.UUID) -> Pedido:
        pedido = await self.pedidos.get(pedido_id, for_update=True)
        if pedido is None:
            raise PedidoNotFoundError(pedido_id)
        return pedido

    def _require_pending(self, pedido: Pedido, action: str) -> None:
        if pedido.status is not PedidoStatus.PENDING:
            raise IllegalTransitionError(action=action, current_status=pedido.status.value)

    async def _touch(self, pedido: Pedido, changes: dict[str, Any], now: datetime) -> None:
        await self.pedidos.update(
            pedido, {**changes, "updated_at": now, "updated_by": self.actor.subject}
        )

    async def add_line(self, pedido_id: uuid.UUID, want: PedidoLineCreate) -> Pedido:
        pedido = await self._locked(pedido_id)
        self._require_pending(pedido, "add a line to")
        if len(pedido.lines) >= MAX_LINES:
            raise TooManyLinesError(MAX_LINES)
        next_no = max((line.line_no for line in pedido.lines), default=0) + 1
        (line,), _ = await self._priced_lines(
            [want], currency=pedido.currency, first_line_no=next_no, location="body"
        )
        await self.pedidos.add_line(pedido, line)
        await self._touch(pedido, {}, datetime.now(UTC))
        return pedido

    async def remove_line(self, pedido_id: uuid.UUID, line_id: uuid.UUID) -> Pedido:
        pedido = await self._locked(pedido_id)
        line = next((li for li in pedido.lines if li.id == line_id), None)
        if line is None:
            raise PedidoLineNotFoundError(line_id)
        self._require_pending(pedido, "remove a line from")
        await self.pedidos.remove_line(pedido, line)
        await self._touch(pedido, {}, datetime.now(UTC))
        return pedido

    # -- transitions -----------------------------------------------------------------------

    def _check_transition(self, pedido: Pedido, action: str) -> PedidoStatus:
        sources, target = TRANSITIONS[action]
        if pedido.status not in sources:
            raise IllegalTransitionError(action=action, current_status=pedido.status.value)
        return target

    async def _move_stock(
        self, items: Sequence[Item], deltas: Counter[uuid.UUID], now: datetime
    ) -> None:
        """Add `deltas[item.id]` (negative to take) to each item, moving its stock status."""
        for item in items:
            quantity = item.quantity + deltas[item.id]
            changes: dict[str, Any] = {
                "quantity": quantity,
                "updated_at": now,
                "updated_by": self.actor.subject,
            }
            status = status_for_stock(item.status, quantity)
            if status != item.status:
                changes["status"] = status
            await self.items.update(item, changes)
            await self.outbox.record(
                ItemUpdated(
                    occurred_at=now,
                    tenant_id=item.tenant_id,
                    actor=self.actor.subject,
                    item_id=item.id,
                    version=item.version,
                    changed=sorted({"quantity", *changes} - {"updated_at", "updated_by"}),
                )
            )

    async def confirm(self, pedido_id: uuid.UUID) -> Pedido:
        pedido = await self._locked(pedido_id)
        target = self._check_transition(pedido, "confirm")
        if not pedido.lines:
            raise EmptyPedidoError
        needed = _quantities(pedido.lines)
        items = await self.items.lock_many(list(needed))
        by_id = {item.id: item for item in items}
        shortages: list[dict[str, Any]] = []
        for item_id, requested in sorted(needed.items()):
            item = by_id.get(item_id)
            sellable = item is not None and item.status in _SELLABLE
            available = item.quantity if item is not None and sellable else 0
            if requested > available:
                shortages.append(
                    {
                        "item_id": str(item_id),
                        "requested": requested,
                        "available": available,
                        "item_status": item.status.value if item is not None else "deleted",
                    }
                )
        if shortages:
            # Nothing was written yet: the request's transaction rolls back with this error.
            raise InsufficientStockError(shortages)
        now = datetime.now(UTC)
        await self._move_stock(items, Counter({k: -v for k, v in needed.items()}), now)
        await self._touch(pedido, {"status": target}, now)
        await self.outbox.record(
            PedidoConfirmed(
                occurred_at=now,
                tenant_id=pedido.tenant_id,
                actor=self.actor.subject,
                pedido_id=pedido.id,
                total=Money(amount=pedido.total, currency=pedido.currency),
                reserved=[StockMovement(item_id=k, quantity=v) for k, v in sorted(needed.items())],
            )
        )
        return pedido

    async def cancel(self, pedido_id: uuid.UUID, *, reason: str | None = None) -> Pedido:
        pedido = await self._locked(pedido_id)
        previous = pedido.status
        target = self._check_transition(pedido, "cancel")
        now = datetime.now(UTC)
        released: Counter[uuid.UUID] = Counter()
        if previous in HOLDS_STOCK:
            released = _quantities(pedido.lines)
            # Deleted items get their units back too: the stock is physically there.
            items = await self.items.lock_many(list(released), include_deleted=True)
            await self._move_stock(items, released, now)
        await self._touch(pedido, {"status": target, "cancel_reason": reason}, now)
        await self.outbox.record(
            PedidoCancelled(
                occurred_at=now,
                tenant_id=pedido.tenant_id,
                actor=self.actor.subject,
                pedido_id=pedido.id,
                previous_status=previous.value,
                reason=reason,
                released=[
                    StockMovement(item_id=k, quantity=v) for k, v in sorted(released.items())
                ],
            )
        )
        return pedido

    async def advance(self, pedido_id: uuid.UUID, action: str) -> Pedido:
        """process, ship or deliver: a status step that moves no stock."""
        if action not in ("process", "ship", "deliver"):
            raise ValueError(f"not a fulfilment action: {action}")
        pedido = await self._locked(pedido_id)
        target = self._check_transition(pedido, action)
        await self._touch(pedido, {"status": target}, datetime.now(UTC))
        return pedido
