"""Every query on signing_keys, plus the advisory lock and change notification around them
(not tenant-scoped: the key set is the whole service's)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.keys.models import KeyPurpose, KeyStatus, SigningKey

# One lock for every change to the key set: rotation, revocation, pruning and first start.
# (ASCII "authkeys"; a constant so every replica and every CronJob run agree on it.)
KEY_SET_LOCK_ID = 0x617574686B657973
# Replicas LISTEN here and reload their key ring when a change commits.
KEY_SET_CHANNEL = "auth_key_set_changed"

_K = SigningKey.__table__.c  # type: ignore[attr-defined]

_FINGERPRINT = text(
    "SELECT coalesce(md5(string_agg(kid || ':' || status, ',' ORDER BY kid COLLATE \"C\")), '') "
    "FROM signing_keys"
)


class SigningKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_key_set(self) -> None:
        """Serialize key-set changes across processes until this transaction ends."""
        await self.session.execute(
            text("SELECT pg_advisory_xact_lock(:id)"), {"id": KEY_SET_LOCK_ID}
        )

    async def notify_key_set_changed(self) -> None:
        """Delivered to listeners when (and only if) the transaction commits."""
        await self.session.execute(
            text("SELECT pg_notify(:channel, '')"), {"channel": KEY_SET_CHANNEL}
        )

    async def list_all(self) -> Sequence[SigningKey]:
        result = await self.session.execute(select(SigningKey).order_by(_K.purpose, _K.created_at))
        return result.scalars().all()

    async def get(self, kid: str) -> SigningKey | None:
        return await self.session.get(SigningKey, kid)

    async def get_by_status(self, purpose: KeyPurpose, status: KeyStatus) -> SigningKey | None:
        result = await self.session.execute(
            select(SigningKey).where(_K.purpose == purpose.value, _K.status == status.value)
        )
        return result.scalars().one_or_none()

    async def add(self, key: SigningKey) -> None:
        self.session.add(key)
        await self.session.flush()

    async def set_status(self, key: SigningKey, status: KeyStatus, *, at: datetime) -> None:
        """Move one key to `status`, stamping the matching time column, and flush at once.

        One UPDATE per call, in the caller's order: the partial unique indexes (one active, one
        next per purpose) are checked per statement, so the old key must leave a state first.
        """
        key.status = status.value
        if status is KeyStatus.ACTIVE:
            key.activated_at = at
        elif status is KeyStatus.RETIRED:
            key.retired_at = at
        elif status is KeyStatus.REVOKED:
            key.revoked_at = at
        await self.session.flush()

    async def delete_kids(self, kids: Sequence[str]) -> None:
        if kids:
            await self.session.execute(delete(SigningKey).where(_K.kid.in_(kids)))

    async def fingerprint(self) -> str:
        """A digest of (kid, status) for every key: changes whenever the key set does."""
        return str((await self.session.execute(_FINGERPRINT)).scalar_one())
