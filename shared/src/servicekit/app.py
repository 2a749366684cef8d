"""App factory parts: the lifespan that owns engines and pools, middleware, error handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from servicekit.db import create_engine, create_sessionmaker
from servicekit.health import health_router
from servicekit.logging import configure_logging
from servicekit.middleware import RequestIdMiddleware
from servicekit.problems import install_problem_handlers
from servicekit.protections import install_protections
from servicekit.redis import create_redis
from servicekit.settings import ServiceSettings

# A hook runs inside the lifespan after the pools exist; it may register cleanups on the stack.
LifespanHook = Callable[[FastAPI, "ServiceResources", AsyncExitStack], Awaitable[None]]


@dataclass
class ServiceResources:
    """Everything the process builds once and every request shares (the composition root)."""

    settings: ServiceSettings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    redis: Redis | None = None
    extras: dict[str, Any] = field(default_factory=dict)


def create_service_app(
    *,
    settings: ServiceSettings,
    title: str,
    version: str,
    routers: Sequence[APIRouter] = (),
    redis_url: str | None = None,
    hooks: Sequence[LifespanHook] = (),
    description: str = "",
) -> FastAPI:
    """Build a FastAPI app with the shared lifespan, error handling and request ids."""
    configure_logging(service=settings.service_name, level=settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            engine = create_engine(settings)
            stack.push_async_callback(engine.dispose)
            redis = create_redis(redis_url) if redis_url else None
            if redis is not None:
                stack.push_async_callback(redis.aclose)
            resources = ServiceResources(
                settings=settings,
                engine=engine,
                sessionmaker=create_sessionmaker(engine),
                redis=redis,
            )
            app.state.resources = resources
            for hook in hooks:
                await hook(app, resources, stack)
            yield

    app = FastAPI(title=title, version=version, description=description, lifespan=lifespan)
    install_problem_handlers(app)
    app.include_router(health_router())
    for router in routers:
        app.include_router(router)
    install_protections(app, settings)
    app.add_middleware(RequestIdMiddleware)
    return app
