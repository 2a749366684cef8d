"""The composition root's types: the pools every service shares, and a service's typed state
(built once by the lifespan, read by requests through typed dependencies; no string keys)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any, TypeVar

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from servicekit.core.settings import ServiceSettings
from servicekit.verify.verifier import TokenVerifier


@dataclass
class ServiceResources:
    """The pools every service has: built by the shared lifespan, shared by every request."""

    settings: ServiceSettings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    redis: Redis | None = None


@dataclass(kw_only=True)
class ServiceState:
    """A service's typed state (the composition root): the shared pools, the token verifier
    when the service takes bearer tokens, and whatever a subclass adds as typed fields."""

    resources: ServiceResources
    verifier: TokenVerifier | None = None


S = TypeVar("S", bound=ServiceState)
# Runs inside the lifespan once the pools exist; may register cleanups on the stack.
StateBuilder = Callable[[ServiceResources, AsyncExitStack], Awaitable[ServiceState]]


def service_state(app: Any, kind: type[S]) -> S:
    """The state `app`'s lifespan built, as the service's own type (checked, not cast)."""
    state = getattr(app.state, "service", None)
    if not isinstance(state, kind):
        raise RuntimeError(f"the app's lifespan has not built a {kind.__name__} (yet)")
    return state
