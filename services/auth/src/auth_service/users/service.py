"""User use cases: an admin's (UserService, one tenant), the cross-tenant account operations
(AccountService: email taken, password recovery) and the login (LoginService: the password
check with per-account lockout, and the refresh grant's check that the user may still sign in).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from auth_service._paging import list_page
from auth_service.errors import ConflictError, InvalidInputError, NotFoundError
from auth_service.settings import AuthSettings
from auth_service.users.models import User
from auth_service.users.repository import AccountRepository, DuplicateEmailError, UserRepository
from auth_service.users.schemas import UserCreate, UserListQuery, UserUpdate
from auth_service.users.specifications import UserDisabledSpec, UserRoleSpec
from servicekit.data.cursors import CursorSigner
from servicekit.data.repository import Page, SortKey
from servicekit.data.specification import Specification, and_spec

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


class RefreshSessions(Protocol):
    """What users need of tokens: ending a user's refresh sessions.

    tokens.service.RefreshTokenService is the one implementation; the composition root
    (auth_service.dependencies) hands it in. A protocol rather than an import because tokens
    already depends on users (the password grant calls LoginService).
    """

    async def revoke_all_for_user(self, user_id: uuid.UUID, *, now: datetime) -> int: ...


# Email order: what an admin looks a user up by (the list's one sort, like before cursors).
USER_SORT = SortKey("email")


def _check_password(password: str, settings: AuthSettings) -> None:
    if len(password) < settings.password_min_length:
        raise InvalidInputError(
            f"the password must have at least {settings.password_min_length} characters"
        )


def list_spec(query: UserListQuery) -> Specification[User]:
    """The filters of GET /api/v1/users as one specification (no filter selects every user)."""
    parts: list[Specification[User]] = []
    if query.role is not None:
        parts.append(UserRoleSpec(query.role))
    if query.disabled is not None:
        parts.append(UserDisabledSpec() if query.disabled else ~UserDisabledSpec())
    return and_spec(*parts)


class UserService:
    """An admin's use cases, inside one tenant (the admin's, from the token)."""

    def __init__(
        self,
        session: AsyncSession,
        *,
        tenant_id: str,
        passwords: Passwords,
        settings: AuthSettings,
        sessions: RefreshSessions,
    ) -> None:
        self.tenant_id = tenant_id
        self.users = UserRepository(session, tenant_id=tenant_id)
        self.accounts = AccountRepository(session)
        self.passwords = passwords
        self.settings = settings
        self.sessions = sessions

    async def create(self, data: UserCreate, *, now: datetime) -> User:
        password = data.password.get_secret_value()
        _check_password(password, self.settings)
        # Emails are login names, unique across tenants: checked before the (slow) hash.
        if await self.accounts.exists_by_email(data.email):
            raise ConflictError("a user with this email already exists")
        user = User(
            id=uuid.uuid4(),
            email=data.email,
            password_hash=await self.passwords.hash(password),
            roles=list(data.roles),
            tenant_id=self.tenant_id,
            disabled=False,
            failed_logins=0,
            created_at=now,
            updated_at=now,
        )
        try:
            await self.users.add(user)
        except DuplicateEmailError:
            raise ConflictError("a user with this email already exists") from None
        log.info("user created", extra={"user_id": str(user.id), "tenant_id": self.tenant_id})
        return user

    async def get(self, user_id: uuid.UUID) -> User:
        user = await self.users.get(user_id)
        if user is None:
            raise NotFoundError("no such user")
        return user

    async def list_page(self, query: UserListQuery, *, signer: CursorSigner) -> Page[User]:
        return await list_page(
            self.users,
            list_spec(query),
            sort=USER_SORT,
            query=query,
            signer=signer,
        )

    async def update(self, user_id: uuid.UUID, data: UserUpdate, *, now: datetime) -> User:
        user = await self.get(user_id)
        end_sessions = False
        if data.roles is not None:
            user.roles = list(data.roles)
        if data.password is not None:
            password = data.password.get_secret_value()
            _check_password(password, self.settings)
            user.password_hash = await self.passwords.hash(password)
            # A new password also clears a lockout: the admin vouched for the account.
            user.failed_logins, user.locked_until = 0, None
            end_sessions = True
        if data.disabled is not None and data.disabled != user.disabled:
            user.disabled = data.disabled
            end_sessions = end_sessions or data.disabled
        user.updated_at = now
        await self.users.flush()
        if end_sessions:
            await self.sessions.revoke_all_for_user(user.id, now=now)
        return user


class AccountService:
    """Operations on an account named by its email, whatever its tenant: for operators (the
    CLI, `make run`'s first admin), never for an API caller."""

    def __init__(
        self,
        session: AsyncSession,
        *,
        passwords: Passwords,
        settings: AuthSettings,
        sessions: RefreshSessions,
    ) -> None:
        self.session = session
        self.accounts = AccountRepository(session)
        self.passwords = passwords
        self.settings = settings
        self.sessions = sessions

    async def email_taken(self, email: str) -> bool:
        return await self.accounts.exists_by_email(email.strip().lower())

    async def set_password(self, email: str, data: UserUpdate, *, now: datetime) -> User:
        """Recovery: `data` applied as the user's own tenant admin would (the row locked first);
        NotFoundError when no user has `email`."""
        user = await self.accounts.get_by_email_for_update(email.strip().lower())
        if user is None:
            raise NotFoundError(f"no user <{email}>")
        users = UserService(
            self.session,
            tenant_id=user.tenant_id,
            passwords=self.passwords,
            settings=self.settings,
            sessions=self.sessions,
        )
        return await users.update(user.id, data, now=now)


@dataclass(frozen=True, slots=True)
class PasswordCheck:
    """The outcome of the slow part of a login, decided with no database connection held."""

    email: str  # as stored: trimmed, lower case
    user_id: uuid.UUID | None  # set only when the password matched
    checked_hash: str | None
    new_hash: str | None


class LoginService:
    """The login path, across tenants (the email is the login name).

    Unlike the other services it is not bound to one session: a login reads the account in a
    short session of its own, verifies the password with no connection held, then records the
    outcome in the request's transaction (see check_password), so each method names its session.
    """

    def __init__(self, *, passwords: Passwords, settings: AuthSettings) -> None:
        self.passwords = passwords
        self.settings = settings

    async def check_password(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        username: str,
        password: str,
        now: datetime,
    ) -> PasswordCheck:
        """Read the account, give its connection back, then verify the password.

        Waiting for an argon2 slot while holding a pooled connection (or a row lock) would let
        a burst of logins starve refresh, the admin API and readiness of connections. Every
        failure path (unknown, locked, wrong password) costs one read and one argon2
        verification; the write that counts it (`record_login`) is the same statement for all.
        """
        email = username.strip().lower()
        async with sessionmaker() as session:
            row = await AccountRepository(session).get_login(email)
        if row is None or (row.locked_until is not None and row.locked_until > now):
            await self.passwords.verify(password, None)
            return PasswordCheck(email, None, None, None)
        ok, new_hash = await self.passwords.verify(password, row.password_hash)
        return PasswordCheck(email, row.id if ok else None, row.password_hash, new_hash)

    async def record_login(
        self, session: AsyncSession, check: PasswordCheck, *, now: datetime
    ) -> User | None:
        """The user for a matched password whose account is still enabled and unlocked; else
        count the failure (a no-op statement for an unknown or locked account) and None."""
        accounts = AccountRepository(session)
        if check.user_id is not None and check.checked_hash is not None:
            return await accounts.complete_login(
                check.user_id,
                checked_hash=check.checked_hash,
                new_hash=check.new_hash,
                now=now,
            )
        locked_until = await accounts.count_failure(
            check.email,
            now=now,
            max_failures=self.settings.login_max_failures,
            locked_until=now + timedelta(minutes=self.settings.login_lockout_minutes),
        )
        if locked_until is not None:
            security_log.warning(
                "account locked after repeated failed logins",
                extra={"locked_until": locked_until.isoformat()},
            )
        return None

    async def active_user(self, session: AsyncSession, user_id: uuid.UUID) -> User | None:
        """The user a refresh token names, if it still exists and is not disabled."""
        user = await AccountRepository(session).get(user_id)
        return None if user is None or user.disabled else user
