"""orders' composition root, served by `orders-service serve` (graceful SIGTERM)."""

from __future__ import annotations

from fastapi import FastAPI

from orders_service import __version__
from orders_service._http import install_body_schemas
from orders_service.items.endpoints import router as items_router
from orders_service.pedidos.endpoints import router as pedidos_router
from orders_service.settings import OrdersSettings, get_settings
from servicekit.app import ServiceResources, create_service_app
from servicekit.auth import JwksKeySource, TokenVerifier, verifier_hook
from servicekit.health import http_check


def create_app(settings: OrdersSettings | None = None) -> FastAPI:
    settings = settings or get_settings()

    def build_verifier(_resources: ServiceResources) -> TokenVerifier:
        return TokenVerifier(
            key_source=JwksKeySource(settings.jwks_url),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )

    app = create_service_app(
        settings=settings,
        title="orders",
        version=__version__,
        routers=[items_router, pedidos_router],
        redis_url=settings.redis_url,
        migrations_section="orders",
        # Soft dependency: verification keeps working on cached keys while auth is away.
        checks=[http_check("jwks", settings.jwks_url, critical=False)],
        hooks=[verifier_hook(build_verifier)],
        description="Items and pedidos (orders), with RBAC, tenant isolation, cache and "
        "idempotent writes.",
    )
    install_body_schemas(app)
    return app
