"""Every query on refresh_tokens (not tenant-scoped: a token is found by its jti, family or
user, and the grant that finds it checks whose it is)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.tokens.models import RefreshStatus, RefreshToken

_T = RefreshToken.__table__.c  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ClaimedToken:
    jti: str
    family_id: uuid.UUID
    user_id: uuid.UUID
    expires_at: datetime


class RefreshTokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, token: RefreshToken) -> None:
        self.session.add(token)
        await self.session.flush()

    async def claim(self, jti: str, *, client_id: str, now: datetime) -> ClaimedToken | None:
        """Mark an active, unexpired token of this client used, atomically: of two concurrent
        uses one wins and the other sees a rotated token (which is reuse)."""
        result = await self.session.execute(
            update(RefreshToken)
            .where(
                _T.jti == jti,
                _T.client_id == client_id,
                _T.status == RefreshStatus.ACTIVE.value,
                _T.expires_at > now,
            )
            .values(status=RefreshStatus.ROTATED.value)
            .returning(_T.jti, _T.family_id, _T.user_id, _T.expires_at)
        )
        row = result.one_or_none()
        if row is None:
            return None
        return ClaimedToken(row.jti, row.family_id, row.user_id, row.expires_at)

    async def retire_unused_successor(
        self, token: RefreshToken, *, issued_since: datetime, now: datetime
    ) -> bool:
        """Retire `token`'s successor if it is still active, unexpired and was issued at or after
        `issued_since`, atomically (of two concurrent retries one retires it, the other finds it
        gone and is reuse). A retired successor has no successor of its own: presenting it later
        is reuse."""
        if token.replaced_by is None:
            return False
        result = await self.session.execute(
            update(RefreshToken)
            .where(
                _T.jti == token.replaced_by,
                _T.family_id == token.family_id,
                _T.status == RefreshStatus.ACTIVE.value,
                _T.issued_at >= issued_since,
                _T.expires_at > now,
            )
            .values(status=RefreshStatus.ROTATED.value)
            .returning(_T.jti)
        )
        return result.one_or_none() is not None

    async def set_replaced_by(self, jti: str, successor: str) -> None:
        await self.session.execute(
            update(RefreshToken).where(_T.jti == jti).values(replaced_by=successor)
        )

    async def get(self, jti: str) -> RefreshToken | None:
        result = await self.session.execute(select(RefreshToken).where(_T.jti == jti))
        return result.scalars().one_or_none()

    async def revoke_family(self, family_id: uuid.UUID, *, now: datetime) -> int:
        result = await self.session.execute(
            update(RefreshToken)
            .where(_T.family_id == family_id, _T.status != RefreshStatus.REVOKED.value)
            .values(status=RefreshStatus.REVOKED.value, revoked_at=now)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def revoke_all_for_user(self, user_id: uuid.UUID, *, now: datetime) -> int:
        result = await self.session.execute(
            update(RefreshToken)
            .where(_T.user_id == user_id, _T.status == RefreshStatus.ACTIVE.value)
            .values(status=RefreshStatus.REVOKED.value, revoked_at=now)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
