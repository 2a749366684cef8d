"""Every query on users.

`UserRepository` holds what an admin does within one tenant (narrowed by `UserTenantSpec` in one
place, the servicekit base). `AccountRepository` holds what works across tenants because the
email is the login name, unique across tenants: the password grant, the refresh grant's check
that the user still exists, and the CLI's password recovery.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from sqlalchemy import and_, case, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from auth_service.users.models import User
from auth_service.users.specifications import UserTenantSpec
from servicekit.data.repository import TenantRepository
from servicekit.data.specification import Specification

_U = User.__table__.c  # type: ignore[attr-defined]


class DuplicateEmailError(Exception):
    pass


class UserRepository(TenantRepository[User]):
    model = User
    sortable: ClassVar[Mapping[str, str]] = {"email": "email", "created_at": "created_at"}
    # Users are neither versioned nor soft-deleted.
    version_attr = None
    deleted_attr = None

    def tenant_spec(self) -> Specification[User]:
        return UserTenantSpec(self.tenant_id)

    async def add(self, entity: User) -> User:
        """Insert; DuplicateEmailError if the address is taken (in any tenant: the unique
        constraint decides, inside a savepoint so the request's transaction survives it)."""
        try:
            async with self.session.begin_nested():
                await super().add(entity)
        except IntegrityError as exc:
            if "uq_users_email" in str(exc.orig):
                raise DuplicateEmailError from None
            raise
        return entity

    async def flush(self) -> None:
        await self.session.flush()


@dataclass(frozen=True, slots=True)
class LoginRow:
    id: uuid.UUID
    password_hash: str
    locked_until: datetime | None


def _unlocked(now: datetime) -> ColumnElement[bool]:
    return or_(_U.locked_until.is_(None), _U.locked_until <= now)


class AccountRepository:
    """Users by login name or id, across tenants (see the module docstring for who may)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: uuid.UUID) -> User | None:
        return await self.session.get(User, user_id)

    async def exists_by_email(self, email: str) -> bool:
        result = await self.session.execute(select(_U.id).where(_U.email == email))
        return result.first() is not None

    async def get_by_email_for_update(self, email: str) -> User | None:
        """The user with `email`, its row locked for an administrative change (CLI recovery)."""
        result = await self.session.execute(select(User).where(_U.email == email).with_for_update())
        return result.scalars().one_or_none()

    async def get_login(self, email: str) -> LoginRow | None:
        """What a password check needs; read without a lock (the writes after it are atomic)."""
        result = await self.session.execute(
            select(_U.id, _U.password_hash, _U.locked_until).where(_U.email == email)
        )
        row = result.one_or_none()
        return None if row is None else LoginRow(row.id, row.password_hash, row.locked_until)

    async def count_failure(
        self, email: str, *, now: datetime, max_failures: int, locked_until: datetime
    ) -> datetime | None:
        """One failed login on an unlocked account, atomically (concurrent failures all count);
        the lockout's end when this failure started it. The same single statement runs whether
        or not the account exists, so the two cases cost the same."""
        reached = _U.failed_logins + 1 >= max_failures
        result = await self.session.execute(
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
        self,
        user_id: uuid.UUID,
        *,
        checked_hash: str,
        new_hash: str | None,
        now: datetime,
    ) -> User | None:
        """Clear the failure count (and store a rehash) if the account is still enabled,
        unlocked and has the password just checked; None when any of that changed meanwhile."""
        result = await self.session.execute(
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
