"""orders' typed state, built once by the lifespan, and the dependencies that hand it out.

The composition root in one place: the token verifier (JWKS from auth), the item cache, and
the after-commit handlers of domain events. Routes get them as `Annotated` dependencies, which
tests replace through `app.dependency_overrides`.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass

from orders_service.items.cache import ItemCache, build_item_cache, invalidate_item
from orders_service.outbox.handlers import EventHandlers
from orders_service.outbox.schemas import ItemDeleted, ItemStockAdjusted, ItemUpdated
from orders_service.settings import OrdersSettings
from servicekit.core.state import ServiceResources, ServiceState, StateBuilder
from servicekit.verify import JwksKeySource, TokenVerifier
from servicekit.web.security import start_verifier


@dataclass(kw_only=True)
class OrdersState(ServiceState):
    item_cache: ItemCache | None = None


def orders_state(settings: OrdersSettings) -> StateBuilder:
    """The lifespan step that builds `OrdersState` from the shared pools."""

    async def build(resources: ServiceResources, stack: AsyncExitStack) -> OrdersState:
        verifier = await start_verifier(
            TokenVerifier(
                key_source=JwksKeySource(
                    settings.jwks_url, require_https=settings.jwks_requires_https
                ),
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
            ),
            stack,
        )
        item_cache = None
        if resources.redis is not None and settings.cache_enabled:
            item_cache = build_item_cache(settings, resources.redis)
            # Subscribes to other replicas' invalidations (local layer only); redis-py retries.
            await item_cache.cache.start()
            stack.push_async_callback(item_cache.cache.aclose)
            handlers = EventHandlers()
            handlers.on(ItemUpdated, invalidate_item(item_cache))
            handlers.on(ItemStockAdjusted, invalidate_item(item_cache))
            handlers.on(ItemDeleted, invalidate_item(item_cache))
            handlers.attach(resources.sessionmaker)
        return OrdersState(resources=resources, verifier=verifier, item_cache=item_cache)

    return build
