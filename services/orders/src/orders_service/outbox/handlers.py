"""After-commit handlers of domain events: `handlers.on(ItemUpdated, invalidate_item(cache))`.

The composition root registers them; every outbox row a session flushes is dispatched to its
handlers once that session's transaction commits (never on rollback). Writers only record
events, so none can forget a reaction, and the outbox knows nothing of what reacts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from orders_service.outbox.models import OutboxEvent
from orders_service.outbox.schemas import DOMAIN_EVENT, DomainEvent
from servicekit.data.db import after_commit

E = TypeVar("E", bound=DomainEvent)
Handler = Callable[[Any], Awaitable[None]]


class EventHandlers:
    """Domain-event type -> the handlers run after the commit that recorded such an event."""

    def __init__(self) -> None:
        self._handlers: dict[type[Any], list[Handler]] = {}

    def on(self, event_type: type[E], handler: Callable[[E], Awaitable[None]]) -> None:
        self._handlers.setdefault(event_type, []).append(handler)

    def attach(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        """Dispatch the events of every session `sessionmaker` opens (and only of those)."""
        # A subclass per attachment: listening on it leaves other apps' sessions alone.
        session_class = type("DispatchingSession", (Session,), {})
        event.listen(session_class, "before_flush", self._collect)
        sessionmaker.configure(sync_session_class=session_class)

    def _collect(self, session: Session, _context: object, _instances: object) -> None:
        for row in session.new:
            if not isinstance(row, OutboxEvent):
                continue
            recorded = DOMAIN_EVENT.validate_python(row.payload)
            for handler in self._handlers.get(type(recorded), ()):
                after_commit(session, _bound(handler, recorded))


def _bound(handler: Handler, recorded: DomainEvent) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        await handler(recorded)

    return run
