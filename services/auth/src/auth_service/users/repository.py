"""Every query on users."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from auth_service.users.models import User
from auth_service.users.specifications import in_tenant

_U = User.__table__.c  # type: ignore[attr-defined]


class DuplicateEmailError(Exception):
    pass


async def add(session: AsyncSession, user: User) -> None:
    """Insert; DuplicateEmailError if the address is taken (checked by the unique constraint)."""
    try:
        async with session.begin_nested():
            session.add(user)
    except IntegrityError as exc:
        if "uq_users_email" in str(exc.orig):
            raise DuplicateEmailError from None
        raise


async def get(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


async def get_in_tenant(session: AsyncSession, user_id: uuid.UUID, tenant_id: str) -> User | None:
    result = await session.execute(select(User).where(_U.id == user_id, in_tenant(tenant_id)))
    return result.scalars().one_or_none()


@dataclass(frozen=True, slots=True)
class LoginRow:
    id: uuid.UUID
    password_hash: str
    locked_until: datetime | None


async def get_login(session: AsyncSession, email: str) -> LoginRow | None:
    """What a password check needs; read without a lock (the writes after it are atomic)."""
    result = await session.execute(
        select(_U.id, _U.password_hash, _U.locked_until).where(_U.email == email)
    )
    row = result.one_or_none()
    return None if row is None else LoginRow(row.id, row.password_hash, row.locked_until)


def _unlocked(now: datetime) -> ColumnElement[bool]:
    return or_(_U.locked_until.is_(None), _U.locked_until <= now)


async def count_failure(
    session: AsyncSession, email: str, *, now: datetime, max_failures: int, locked_until: datetime
) -> datetime | None:
    """One failed login on an unlocked account, atomically (concurrent failures all count);
    the lockout's end when this failure started it. The same single statement runs whether
    or not the account exists, so the two cases cost the same."""
    reached = _U.failed_logins + 1 >= max_failures
    result = await session.execute(
        update(User)
        .where(_U.email == email, _unlocked(now))
        .values(
            failed_logins=case((reached, 0), else_=_U.failed_logins + 1),
            locked_until=case((reached, locked_until), else_=_U.locked_until),
        )
        .returning(_U.locked_until)
    )
    row = result.one_or_none()
    return None if row is None or row.locked_until != locked_until else locked_until


async def complete_login(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    checked_hash: str,
    new_hash: str | None,
    now: datetime,
) -> User | None:
    """Clear the failure count (and store a rehash) if the account is still enabled, unlocked
    and has the password just checked; None when any of that changed meanwhile."""
    result = await session.execute(
        update(User)
        .where(
            and_(
                _U.id == user_id,
                _U.password_hash == checked_hash,
                _U.disabled.is_(False),
                _unlocked(now),
            )
        )
        .values(failed_logins=0, locked_until=None, password_hash=new_hash or checked_hash)
        .returning(User)
        .execution_options(synchronize_session=False)
    )
    return result.scalars().one_or_none()


async def get_by_email_for_update(session: AsyncSession, email: str) -> User | None:
    """The user with `email`, its row locked for an administrative change (CLI recovery)."""
    result = await session.execute(select(User).where(_U.email == email).with_for_update())
    return result.scalars().one_or_none()


async def exists_by_email(session: AsyncSession, email: str) -> bool:
    result = await session.execute(select(_U.id).where(_U.email == email))
    return result.first() is not None


async def list_in_tenant(
    session: AsyncSession, tenant_id: str, *, limit: int, offset: int
) -> tuple[Sequence[User], int]:
    total = (
        await session.execute(select(func.count()).select_from(User).where(in_tenant(tenant_id)))
    ).scalar_one()
    rows = await session.execute(
        select(User).where(in_tenant(tenant_id)).order_by(_U.email).limit(limit).offset(offset)
    )
    return rows.scalars().all(), int(total)


async def flush(session: AsyncSession) -> None:
    await session.flush()
