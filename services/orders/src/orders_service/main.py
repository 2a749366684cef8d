"""orders' composition root, served by `orders-service serve` (graceful SIGTERM)."""

from __future__ import annotations

from fastapi import FastAPI
from redis.asyncio import Redis
from starlette.middleware import Middleware
from starlette.types import Scope

from orders_service import __version__
from orders_service._http import install_body_schemas
from orders_service.cache import item_cache_hook
from orders_service.items.endpoints import ItemReads
from orders_service.items.endpoints import router as items_router
from orders_service.pedidos.endpoints import KEY_REQUIRED
from orders_service.pedidos.endpoints import router as pedidos_router
from orders_service.settings import OrdersSettings, get_settings
from servicekit.app import ServiceResources, create_service_app
from servicekit.auth import JwksKeySource, TokenVerifier, principal_scope_resolver, verifier_hook
from servicekit.docs import document_idempotency
from servicekit.health import http_check
from servicekit.idempotency import IdempotencyMiddleware


def _redis_of(scope: Scope) -> Redis:
    # Built in the lifespan, after the middleware: looked up per keyed request.
    redis: Redis | None = scope["app"].state.resources.redis
    if redis is None:
        raise ConnectionError("orders runs without Redis")  # answered 503 by the middleware
    return redis


def idempotency_middleware(settings: OrdersSettings) -> Middleware:
    """Idempotency-Key on every POST and PATCH under /api/v1; required where KEY_REQUIRED says.

    The scope resolver verifies the bearer token with the app's verifier and leaves the
    principal in the request state, where the route's PrincipalDep picks it up (one
    verification per request). The request body limit is the app's own, so a keyed body is
    never buffered past what the route would accept.
    """
    return Middleware(
        IdempotencyMiddleware,
        redis=_redis_of,
        scope_resolver=principal_scope_resolver(),
        required=KEY_REQUIRED,
        namespace=settings.idempotency_namespace,
        ttl_s=settings.idempotency_ttl_s,
        lock_ttl_s=settings.idempotency_lock_ttl_s,
        op_timeout_s=settings.idempotency_op_timeout_s,
        max_body_bytes=settings.max_body_bytes,
    )


def create_app(settings: OrdersSettings | None = None) -> FastAPI:
    settings = settings or get_settings()

    def build_verifier(_resources: ServiceResources) -> TokenVerifier:
        return TokenVerifier(
            key_source=JwksKeySource(settings.jwks_url, require_https=settings.jwks_requires_https),
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
        hooks=[verifier_hook(build_verifier), item_cache_hook(settings)],
        # Inside request ids and metrics: an item read answered before routing still gets
        # its X-Request-ID, its access-log line and its count.
        middleware=[Middleware(ItemReads), idempotency_middleware(settings)],
        description="Items and pedidos (orders), with RBAC, tenant isolation, cache and "
        "idempotent writes.",
    )
    install_body_schemas(app)
    document_idempotency(
        app, ttl_s=settings.idempotency_ttl_s, lock_ttl_s=settings.idempotency_lock_ttl_s
    )
    return app
