"""Every query on users."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

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


async def get_by_email_for_update(session: AsyncSession, email: str) -> User | None:
    """Lock the row: concurrent login attempts on one account count their failures in turn."""
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
