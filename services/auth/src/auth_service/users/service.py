"""User use cases: create, update, and the password check with per-account lockout."""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from auth_service.errors import ConflictError, InvalidInputError, NotFoundError
from auth_service.settings import AuthSettings
from auth_service.tokens import repository as refresh_tokens
from auth_service.users import repository
from auth_service.users.models import User
from auth_service.users.schemas import UserCreate, UserUpdate

log = logging.getLogger("auth_service.users")
security_log = logging.getLogger("auth_service.security")


class Passwords:
    """argon2id hashing off the event loop, with bounded parallelism (each hash takes
    tens of MiB), and a dummy hash so an unknown account costs what a known one does."""

    def __init__(self, hasher: PasswordHash, dummy_hash: str, *, max_parallel: int = 2) -> None:
        self._hasher = hasher
        self._dummy_hash = dummy_hash
        self._slots = asyncio.Semaphore(max_parallel)
        # Verifications done: every login path must cost exactly one (see check_password).
        self.verifications = 0

    @classmethod
    async def create(cls, settings: AuthSettings) -> Passwords:
        hasher = PasswordHash(
            (
                Argon2Hasher(
                    time_cost=settings.password_hash_time_cost,
                    memory_cost=settings.password_hash_memory_kib,
                    parallelism=settings.password_hash_parallelism,
                ),
            )
        )
        dummy = await asyncio.to_thread(hasher.hash, secrets.token_urlsafe(24))
        return cls(hasher, dummy)

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password: str, password_hash: str | None) -> tuple[bool, str | None]:
        """(matches, a new hash when the stored one uses outdated parameters)."""
        async with self._slots:
            self.verifications += 1
            if password_hash is None:
                await asyncio.to_thread(self._hasher.verify, password, self._dummy_hash)
                return False, None
            return await asyncio.to_thread(self._hasher.verify_and_update, password, password_hash)


def _check_password(password: str, settings: AuthSettings) -> None:
    if len(password) < settings.password_min_length:
        raise InvalidInputError(
            f"the password must have at least {settings.password_min_length} characters"
        )


async def create_user(
    session: AsyncSession,
    *,
    data: UserCreate,
    tenant_id: str,
    passwords: Passwords,
    settings: AuthSettings,
    now: datetime,
) -> User:
    password = data.password.get_secret_value()
    _check_password(password, settings)
    if await repository.exists_by_email(session, data.email):
        raise ConflictError("a user with this email already exists")
    user = User(
        id=uuid.uuid4(),
        email=data.email,
        password_hash=await passwords.hash(password),
        roles=list(data.roles),
        tenant_id=tenant_id,
        disabled=False,
        failed_logins=0,
        created_at=now,
        updated_at=now,
    )
    try:
        await repository.add(session, user)
    except repository.DuplicateEmailError:
        raise ConflictError("a user with this email already exists") from None
    log.info("user created", extra={"user_id": str(user.id), "tenant_id": tenant_id})
    return user


async def get_user(session: AsyncSession, *, user_id: uuid.UUID, tenant_id: str) -> User:
    user = await repository.get_in_tenant(session, user_id, tenant_id)
    if user is None:
        raise NotFoundError("no such user")
    return user


async def list_users(
    session: AsyncSession, *, tenant_id: str, limit: int, offset: int
) -> tuple[Sequence[User], int]:
    return await repository.list_in_tenant(session, tenant_id, limit=limit, offset=offset)


async def update_user(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    tenant_id: str,
    data: UserUpdate,
    passwords: Passwords,
    settings: AuthSettings,
    now: datetime,
) -> User:
    user = await get_user(session, user_id=user_id, tenant_id=tenant_id)
    end_sessions = False
    if data.roles is not None:
        user.roles = list(data.roles)
    if data.password is not None:
        password = data.password.get_secret_value()
        _check_password(password, settings)
        user.password_hash = await passwords.hash(password)
        # A new password also clears a lockout: the admin vouched for the account.
        user.failed_logins, user.locked_until = 0, None
        end_sessions = True
    if data.disabled is not None and data.disabled != user.disabled:
        user.disabled = data.disabled
        end_sessions = end_sessions or data.disabled
    user.updated_at = now
    await repository.flush(session)
    if end_sessions:
        await refresh_tokens.revoke_all_for_user(session, user.id, now=now)
    return user


@dataclass(frozen=True, slots=True)
class PasswordCheck:
    """The outcome of the slow part of a login, decided with no database connection held."""

    email: str  # as stored: trimmed, lower case
    user_id: uuid.UUID | None  # set only when the password matched
    checked_hash: str | None
    new_hash: str | None


async def check_password(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    username: str,
    password: str,
    passwords: Passwords,
    now: datetime,
) -> PasswordCheck:
    """Read the account, give its connection back, then verify the password.

    Waiting for an argon2 slot while holding a pooled connection (or a row lock) would let a
    burst of logins starve refresh, the admin API and readiness of connections. Every failure
    path (unknown, locked, wrong password) costs one read and one argon2 verification; the
    write that counts it (`record_login`) is the same statement for all of them.
    """
    email = username.strip().lower()
    async with sessionmaker() as session:
        row = await repository.get_login(session, email)
    if row is None or (row.locked_until is not None and row.locked_until > now):
        await passwords.verify(password, None)
        return PasswordCheck(email, None, None, None)
    ok, new_hash = await passwords.verify(password, row.password_hash)
    return PasswordCheck(email, row.id if ok else None, row.password_hash, new_hash)


async def record_login(
    session: AsyncSession, check: PasswordCheck, *, settings: AuthSettings, now: datetime
) -> User | None:
    """The user for a matched password whose account is still enabled and unlocked; else
    count the failure (a no-op statement for an unknown or locked account) and None."""
    if check.user_id is not None and check.checked_hash is not None:
        return await repository.complete_login(
            session,
            check.user_id,
            checked_hash=check.checked_hash,
            new_hash=check.new_hash,
            now=now,
        )
    locked_until = await repository.count_failure(
        session,
        check.email,
        now=now,
        max_failures=settings.login_max_failures,
        locked_until=now + timedelta(minutes=settings.login_lockout_minutes),
    )
    if locked_until is not None:
        security_log.warning(
            "account locked after repeated failed logins",
            extra={"locked_until": locked_until.isoformat()},
        )
    return None
