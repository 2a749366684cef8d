"""orders' composition root, served by `orders-service serve` (graceful SIGTERM)."""

from __future__ import annotations

from fastapi import FastAPI
from redis.asyncio import Redis
from starlette.middleware import Middleware
from starlette.types import Scope

from orders_service import __version__
from orders_service._http import body_schemas
from orders_service.events.endpoints import router as events_router
from orders_service.items.endpoints import router as items_router
from orders_service.pedidos.endpoints import KEY_REQUIRED, KEY_REQUIRED_PERMISSIONS
from orders_service.pedidos.endpoints import router as pedidos_router
from orders_service.permissions import permissions_for
from orders_service.settings import OrdersSettings, get_settings
from orders_service.state import OrdersState, orders_state
from servicekit.core.state import service_state
from servicekit.web.app import create_service_app
from servicekit.web.context import context_of
from servicekit.web.docs import idempotency_docs
from servicekit.web.health import http_check
from servicekit.web.idempotency import IdempotencyMiddleware
from servicekit.web.security import principal_scope


def _redis_of(scope: Scope) -> Redis:
    # Built in the lifespan, after the middleware: looked up per keyed request.
    redis = service_state(scope["app"], OrdersState).resources.redis
    if redis is None:
        raise ConnectionError("orders runs without Redis")  # answered 503 by the middleware
    return redis


async def _forbidden(scope: Scope, method: str, template: str) -> bool:
    # The principal the scope resolver verified (remembered by the request context):
    # permission is checked before the key.
    principal = await context_of(scope).principal_or_none()
    needed = KEY_REQUIRED_PERMISSIONS.get((method, template))
    return (
        principal is not None
        and needed is not None
        and needed not in permissions_for(principal.roles)
    )


def idempotency_middleware(settings: OrdersSettings) -> Middleware:
    """Idempotency-Key on every POST and PATCH under /api/v1; required where KEY_REQUIRED says.

    The caller and the body come from the request context: the token verified there is the
    one the route's permission check reuses, and the body is the one the limits read.
    """
    return Middleware(
        IdempotencyMiddleware,
        redis=_redis_of,
        scope_resolver=principal_scope,
        required=KEY_REQUIRED,
        namespace=settings.idempotency_namespace,
        ttl_s=settings.idempotency_ttl_s,
        lock_ttl_s=settings.idempotency_lock_ttl_s,
        op_timeout_s=settings.idempotency_op_timeout_s,
        max_body_bytes=settings.max_body_bytes,
        forbidden=_forbidden,
    )


def create_app(settings: OrdersSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return create_service_app(
        settings=settings,
        title="orders",
        version=__version__,
        routers=[items_router, pedidos_router, events_router],
        redis_url=settings.redis_url,
        migrations_section="orders",
        # Soft dependency: verification keeps working on cached keys while auth is away.
        checks=[http_check("jwks", settings.jwks_url, critical=False)],
        state=orders_state(settings),
        # Inside request ids and metrics: an item read answered before routing still gets
        # its X-Request-ID, its access-log line and its count.
        middleware=[idempotency_middleware(settings)],
        openapi=[
            body_schemas,
            idempotency_docs(
                ttl_s=settings.idempotency_ttl_s, lock_ttl_s=settings.idempotency_lock_ttl_s
            ),
        ],
        description="Items and pedidos (orders), with RBAC, tenant isolation, cache and "
        "idempotent writes.",
    )
