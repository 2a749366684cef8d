"""orders' composition root, served by `orders-service serve` (graceful SIGTERM)."""

from __future__ import annotations

from fastapi import FastAPI

from orders_service import __version__
from orders_service.settings import OrdersSettings, get_settings
from servicekit.app import create_service_app
from servicekit.health import http_check


def create_app(settings: OrdersSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return create_service_app(
        settings=settings,
        title="orders",
        version=__version__,
        redis_url=settings.redis_url,
        migrations_section="orders",
        # Soft dependency: verification keeps working on cached keys while auth is away.
        checks=[http_check("jwks", settings.jwks_url, critical=False)],
        description="Items and pedidos (orders), with RBAC, tenant isolation, cache and "
        "idempotent writes.",
    )
