"""Event feed use cases: a page after a signed position, and pruning by age."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from orders_service.context import Actor
from orders_service.cursors import cursor_signer
from orders_service.errors import InvalidCursorProblemError
from orders_service.events.repository import FeedRow, Position, feed_page, prune_events
from orders_service.events.schemas import EventListQuery
from servicekit.data.repository import InvalidCursorError

_MAX_POSITION = 2**63 - 1
_FEED = "events"  # the cursors' scope: no list's cursor is a feed position, and vice versa


def encode_position(position: Position) -> str:
    raw = json.dumps({"feed": [position.txid, position.seq]}, separators=(",", ":")).encode()
    token = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return cursor_signer().sign(token, scope=_FEED)


def decode_position(cursor: str) -> Position:
    """The position inside a cursor this feed issued; the 400 problem for anything else."""
    try:
        token = cursor_signer().verify(cursor, scope=_FEED)
        payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (InvalidCursorError, binascii.Error, ValueError):
        raise InvalidCursorProblemError from None
    value = payload.get("feed") if isinstance(payload, dict) else None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(type(part) is int and 0 <= part <= _MAX_POSITION for part in value)
    ):
        # Signed by us but not a feed position (a cursor of another list).
        raise InvalidCursorProblemError
    return Position(value[0], value[1])


@dataclass(frozen=True, slots=True)
class FeedPage:
    rows: list[FeedRow]
    next_cursor: str | None


class EventService:
    def __init__(self, session: AsyncSession, actor: Actor) -> None:
        self.session = session
        self.actor = actor

    async def page(self, query: EventListQuery) -> FeedPage:
        after = None if query.cursor is None else decode_position(query.cursor)
        rows = await feed_page(
            self.session,
            tenant_id=self.actor.tenant_id,
            after=after,
            limit=query.limit,
            event_type=query.event_type,
            aggregate_id=query.aggregate_id,
        )
        if rows:
            return FeedPage(rows, encode_position(rows[-1].position))
        # Nothing new: the same position, so a poller keeps its place.
        return FeedPage(rows, query.cursor)


async def prune(session: AsyncSession, *, older_than: datetime) -> int:
    return await prune_events(session, older_than=older_than)
