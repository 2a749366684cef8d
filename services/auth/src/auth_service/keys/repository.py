"""Every query on signing_keys, plus the advisory lock and change notification around them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

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


async def lock_key_set(session: AsyncSession) -> None:
    """Serialize key-set changes across processes until this transaction ends."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": KEY_SET_LOCK_ID})


async def notify_key_set_changed(session: AsyncSession) -> None:
    """Delivered to listeners when (and only if) the transaction commits."""
    await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": KEY_SET_CHANNEL})


async def list_all(session: AsyncSession) -> Sequence[SigningKey]:
    result = await session.execute(select(SigningKey).order_by(_K.purpose, _K.created_at))
    return result.scalars().all()


async def get(session: AsyncSession, kid: str) -> SigningKey | None:
    return await session.get(SigningKey, kid)


async def get_by_status(
    session: AsyncSession, purpose: KeyPurpose, status: KeyStatus
) -> SigningKey | None:
    result = await session.execute(
        select(SigningKey).where(_K.purpose == purpose.value, _K.status == status.value)
    )
    return result.scalars().one_or_none()


async def add(session: AsyncSession, key: SigningKey) -> None:
    session.add(key)
    await session.flush()


async def set_status(
    session: AsyncSession, key: SigningKey, status: KeyStatus, *, at: datetime
) -> None:
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
    await session.flush()


async def delete_kids(session: AsyncSession, kids: Sequence[str]) -> None:
    if kids:
        await session.execute(delete(SigningKey).where(_K.kid.in_(kids)))


async def fingerprint(conn: AsyncConnection) -> str:
    """A digest of (kid, status) for every key: changes whenever the key set does."""
    return str((await conn.execute(_FINGERPRINT)).scalar_one())
