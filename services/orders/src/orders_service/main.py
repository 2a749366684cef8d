"""orders' composition root: `uvicorn --factory orders_service.main:create_app`."""

from __future__ import annotations

from fastapi import FastAPI

from orders_service import __version__
from orders_service.settings import OrdersSettings, get_settings
from servicekit.app import create_service_app


def create_app(settings: OrdersSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return create_service_app(
        settings=settings,
        title="orders",
        version=__version__,
        redis_url=settings.redis_url,
        description="Items and pedidos (orders), with RBAC, tenant isolation, cache and "
        "idempotent writes.",
    )
