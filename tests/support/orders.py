"""Helpers for tests that drive the orders domain against a real PostgreSQL."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from orders_service.context import Actor
from orders_service.items.models import Item, ItemStatus
from servicekit.core.settings import normalize_database_url


def orders_engine_for(url: str) -> AsyncEngine:
    return create_async_engine(normalize_database_url(url), pool_size=10, max_overflow=10)


@asynccontextmanager
async def rolled_back(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session inside one transaction that is rolled back at the end, whatever happened."""
    async with engine.connect() as conn:
        trans = await conn.begin()
        session = AsyncSession(bind=conn, expire_on_commit=False, autoflush=False)
        try:
            yield session
        finally:
            await session.close()
            await trans.rollback()


def actor(tenant_id: str, subject: str = "tester") -> Actor:
    return Actor(tenant_id=tenant_id, subject=subject)


def make_item(
    *,
    tenant_id: str,
    sku: str | None = None,
    name: str = "item",
    description: str = "",
    price: Decimal = Decimal("10.00"),
    currency: str = "BRL",
    category: str = "general",
    tags: list[str] | None = None,
    quantity: int = 1,
    status: ItemStatus = ItemStatus.ACTIVE,
) -> Item:
    now = datetime.now(UTC)
    return Item(
        tenant_id=tenant_id,
        sku=sku or f"SKU-{uuid.uuid4().hex[:10]}",
        name=name,
        description=description,
        price_amount=price,
        price_currency=currency,
        category=category,
        tags=list(tags or []),
        quantity=quantity,
        status=status,
        created_at=now,
        updated_at=now,
        created_by="tester",
        updated_by="tester",
    )


# The writes orders refuses without an Idempotency-Key (pedidos/endpoints.py KEY_REQUIRED).
_KEY_REQUIRED = re.compile(r"/api/v1/pedidos(/[^/]+/confirm)?")


def add_idempotency_key(request: httpx.Request) -> None:
    """httpx request hook: a fresh Idempotency-Key on each write that requires one and was
    sent without, as a well-behaved client does (one key per intended operation)."""
    if (
        request.method == "POST"
        and "idempotency-key" not in request.headers
        and _KEY_REQUIRED.fullmatch(request.url.path)
    ):
        request.headers["Idempotency-Key"] = uuid.uuid4().hex


async def add_idempotency_key_async(request: httpx.Request) -> None:
    """`add_idempotency_key` for an httpx.AsyncClient."""
    add_idempotency_key(request)
