"""Imports every orders model so `metadata` is complete for Alembic and tests."""

from __future__ import annotations

from orders_service.db import metadata
from orders_service.idempotency.models import IdempotencyRecord
from orders_service.items.models import Item
from orders_service.outbox.models import OutboxEvent
from orders_service.pedidos.models import Pedido, PedidoLine

__all__ = ["IdempotencyRecord", "Item", "OutboxEvent", "Pedido", "PedidoLine", "metadata"]
