"""The feed query: one tenant's outbox rows after a position, oldest first (SQLAlchemy Core).

Feed order is (txid, seq): the writing transaction's id, then insertion order inside it. Only
transactions below the current snapshot's xmin are served: each of those has committed or
rolled back, so no event can later appear before a position already handed out
(docs/adr/0005-event-feed-order.md).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Text, delete, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from orders_service.outbox.models import OutboxEvent

_T = OutboxEvent.__table__  # type: ignore[attr-defined]

# Every transaction with an id below this has finished (committed or rolled back).
_SETTLED_BELOW = func.pg_snapshot_xmin(func.pg_current_snapshot()).cast(Text).cast(BigInteger)


@dataclass(frozen=True, slots=True)
class Position:
    txid: int
    seq: int


@dataclass(frozen=True, slots=True)
class FeedRow:
    id: uuid.UUID
    event_type: str
    aggregate_type: str
    aggregate_id: uuid.UUID
    occurred_at: datetime
    payload: dict[str, Any]
    position: Position


async def feed_page(
    session: AsyncSession,
    *,
    tenant_id: str,
    after: Position | None,
    limit: int,
    event_type: str | None = None,
    aggregate_id: uuid.UUID | None = None,
) -> list[FeedRow]:
    stmt = select(
        _T.c.id,
        _T.c.event_type,
        _T.c.aggregate_type,
        _T.c.aggregate_id,
        _T.c.occurred_at,
        _T.c.payload,
        _T.c.txid,
        _T.c.seq,
    ).where(_T.c.tenant_id == tenant_id, _T.c.txid < _SETTLED_BELOW)
    if after is not None:
        stmt = stmt.where(tuple_(_T.c.txid, _T.c.seq) > tuple_(after.txid, after.seq))
    if event_type is not None:
        stmt = stmt.where(_T.c.event_type == event_type)
    if aggregate_id is not None:
        stmt = stmt.where(_T.c.aggregate_id == aggregate_id)
    stmt = stmt.order_by(_T.c.txid, _T.c.seq).limit(limit)
    rows = (await session.execute(stmt)).all()
    return [
        FeedRow(
            id=row.id,
            event_type=row.event_type,
            aggregate_type=row.aggregate_type,
            aggregate_id=row.aggregate_id,
            occurred_at=row.occurred_at,
            payload=row.payload,
            position=Position(row.txid, row.seq),
        )
        for row in rows
    ]


async def prune_events(session: AsyncSession, *, older_than: datetime) -> int:
    """Delete every tenant's events that occurred before `older_than`; returns how many."""
    result = await session.execute(delete(_T).where(_T.c.occurred_at < older_than))
    return int(getattr(result, "rowcount", 0) or 0)
