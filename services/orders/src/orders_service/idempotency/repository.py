"""Claim, read, complete and prune idempotency records (SQLAlchemy Core: one statement each)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from orders_service.idempotency.models import IdempotencyRecord

_T = IdempotencyRecord.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class RecordScope:
    tenant_id: str
    subject: str
    route: str
    key: str

    def where(self) -> list[ColumnElement[bool]]:
        return [
            _T.c.tenant_id == self.tenant_id,
            _T.c.subject == self.subject,
            _T.c.route == self.route,
            _T.c.key == self.key,
        ]


@dataclass(frozen=True, slots=True)
class StoredResponse:
    fingerprint: str
    status: int | None
    headers: list[tuple[str, str]]
    body: bytes


class IdempotencyRecords:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim(self, scope: RecordScope, fingerprint: str, now: datetime) -> bool:
        """Insert the record; False when the scope already has one.

        ON CONFLICT DO NOTHING waits for a concurrent transaction holding the same key: if it
        commits, this one sees the conflict (and then its row); if it rolls back, this claims.
        """
        stmt = (
            insert(_T)
            .values(
                tenant_id=scope.tenant_id,
                subject=scope.subject,
                route=scope.route,
                key=scope.key,
                fingerprint=fingerprint,
                created_at=now,
            )
            .on_conflict_do_nothing()
            .returning(_T.c.key)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def get(self, scope: RecordScope) -> StoredResponse | None:
        stmt = select(_T.c.fingerprint, _T.c.status, _T.c.headers, _T.c.body).where(*scope.where())
        row = (await self.session.execute(stmt)).first()
        if row is None:
            return None
        headers = [(str(k), str(v)) for k, v in row.headers or []]
        return StoredResponse(row.fingerprint, row.status, headers, row.body or b"")

    async def complete(
        self, scope: RecordScope, *, status: int, headers: Sequence[tuple[str, str]], body: bytes
    ) -> None:
        stmt = (
            update(_T)
            .where(*scope.where())
            .values(status=status, headers=[list(h) for h in headers], body=body)
        )
        await self.session.execute(stmt)

    async def prune(self, *, older_than: datetime) -> int:
        """Delete records past every retry window; returns how many."""
        result = await self.session.execute(delete(_T).where(_T.c.created_at < older_than))
        return int(getattr(result, "rowcount", 0) or 0)
