"""Key life cycle: next -> active -> retired -> removed, and revoked.

Every change runs in the caller's transaction under one PostgreSQL advisory lock, so two
replicas starting together, or two CronJob runs racing, make exactly one change; the commit
notifies every replica, which reloads its key ring. `KeyService` is built per transaction by its
callers: the lifespan's first start, the `keys` commands.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.keys._crypto import (
    KeyWrapper,
    generate_private_key,
    public_jwk_members,
    thumbprint,
)
from auth_service.keys.models import KeyPurpose, KeyStatus, SigningKey
from auth_service.keys.repository import SigningKeyRepository
from auth_service.settings import AuthSettings

log = logging.getLogger("auth_service.keys")
ALGORITHM = "RS256"


class KeyLifecycleError(Exception):
    """Base of key life-cycle errors."""


class KeyNotFoundError(KeyLifecycleError):
    pass


class KeyEncryptionKeyMismatchError(KeyLifecycleError):
    """The signing key in use was wrapped under another key-encryption key."""


@dataclass(frozen=True)
class KeyPolicy:
    """The numbers the life cycle runs on, all derived from settings."""

    key_size: int
    rotation_period: timedelta
    access_grace: timedelta
    refresh_grace: timedelta
    access_publish_wait: timedelta
    refresh_publish_wait: timedelta

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> KeyPolicy:
        reload = timedelta(seconds=settings.key_reload_interval_s)
        return cls(
            key_size=settings.key_size,
            rotation_period=timedelta(seconds=settings.key_rotation_period_s),
            access_grace=timedelta(seconds=settings.access_key_grace_s),
            refresh_grace=timedelta(seconds=settings.refresh_key_grace_s),
            # A next access key signs only once every verifier's cached JWKS can hold it:
            # max-age after every replica serves it (replicas reload within `reload`).
            access_publish_wait=timedelta(seconds=settings.jwks_max_age_s) + reload,
            # Refresh keys are never published; only the other replicas must have loaded it.
            refresh_publish_wait=reload,
        )

    def grace(self, purpose: KeyPurpose) -> timedelta:
        return self.access_grace if purpose is KeyPurpose.ACCESS else self.refresh_grace

    def publish_wait(self, purpose: KeyPurpose) -> timedelta:
        return (
            self.access_publish_wait if purpose is KeyPurpose.ACCESS else self.refresh_publish_wait
        )


@dataclass(frozen=True)
class KeyChange:
    """One line of what a command did (or why it did nothing), for the operator."""

    purpose: KeyPurpose
    action: str  # created|rotated|revoked|pruned|waiting|not-due|replaced|refused
    kid: str | None
    detail: str

    def __str__(self) -> str:
        return (
            f"{self.purpose.value}: {self.action}"
            + (f" {self.kid}" if self.kid else "")
            + (f" ({self.detail})" if self.detail else "")
        )


class KeyService:
    """The key life cycle inside one transaction (the caller's), under the key-set lock."""

    def __init__(
        self, session: AsyncSession, *, policy: KeyPolicy, wrapper: KeyWrapper | None = None
    ) -> None:
        self.keys = SigningKeyRepository(session)
        self.policy = policy
        # None where no key is created (list, prune): those need no key-encryption key.
        self.wrapper = wrapper

    def _wrapper(self) -> KeyWrapper:
        if self.wrapper is None:
            raise KeyLifecycleError("creating keys needs the key-encryption key")
        return self.wrapper

    async def _create(self, purpose: KeyPurpose, status: KeyStatus, *, now: datetime) -> SigningKey:
        policy, wrapper = self.policy, self._wrapper()
        private_key = await asyncio.to_thread(generate_private_key, policy.key_size)
        public = private_key.public_key()
        kid = thumbprint(public)
        members = public_jwk_members(public)
        key = SigningKey(
            kid=kid,
            purpose=purpose.value,
            status=status.value,
            algorithm=ALGORITHM,
            key_size=policy.key_size,
            public_n=members["n"],
            public_e=members["e"],
            private_key_wrapped=wrapper.wrap(private_key, kid=kid, purpose=purpose.value),
            kek_id=wrapper.kek_id,
            created_at=now,
            activated_at=now if status is KeyStatus.ACTIVE else None,
        )
        await self.keys.add(key)
        log.info(
            "signing key created", extra={"kid": kid, "purpose": purpose.value, "status": status}
        )
        return key

    async def ensure_keys(self, *, now: datetime, replace_unopenable: bool) -> list[KeyChange]:
        """First start: make sure each purpose has an active and a next key (once, under the lock).

        A signing key wrapped under another key-encryption key cannot sign here. In development
        (`replace_unopenable`) it is retired and replaced, with an error in the log; in production
        the process refuses to start, since replacing it would break the replicas that can open it.
        """
        wrapper = self._wrapper()
        await self.keys.lock_key_set()
        changes: list[KeyChange] = []
        for purpose in KeyPurpose:
            active = await self.keys.get_by_status(purpose, KeyStatus.ACTIVE)
            nxt = await self.keys.get_by_status(purpose, KeyStatus.NEXT)
            if active is not None and active.kek_id != wrapper.kek_id:
                if not replace_unopenable:
                    raise KeyEncryptionKeyMismatchError(
                        f"the active {purpose.value} key {active.kid} was wrapped under "
                        f"key-encryption key {active.kek_id}, this process has {wrapper.kek_id}: "
                        "set AUTH_KEY_ENCRYPTION_KEY to the key that wrapped it"
                    )
                log.error(
                    "active signing key wrapped under another key-encryption key; replacing it",
                    extra={"kid": active.kid, "purpose": purpose.value},
                )
                await self.keys.set_status(active, KeyStatus.RETIRED, at=now)
                changes.append(KeyChange(purpose, "replaced", active.kid, "other KEK; retired"))
                active = None
            if nxt is not None and nxt.kek_id != wrapper.kek_id and replace_unopenable:
                await self.keys.set_status(nxt, KeyStatus.RETIRED, at=now)
                changes.append(KeyChange(purpose, "replaced", nxt.kid, "other KEK; retired"))
                nxt = None
            if active is None:
                created = await self._create(purpose, KeyStatus.ACTIVE, now=now)
                changes.append(KeyChange(purpose, "created", created.kid, "active"))
            if nxt is None:
                created = await self._create(purpose, KeyStatus.NEXT, now=now)
                changes.append(KeyChange(purpose, "created", created.kid, "next"))
        if changes:
            await self.keys.notify_key_set_changed()
        return changes

    async def rotate(
        self, *, purposes: Sequence[KeyPurpose], now: datetime, force: bool = False
    ) -> list[KeyChange]:
        """Promote `next` to `active` when rotation is due (or forced), retire the old active key
        and create a new `next`. A `next` key is promoted only after it has been published for the
        policy's wait, forced or not: a verifier must already hold it when it starts signing."""
        policy, wrapper = self.policy, self._wrapper()
        await self.keys.lock_key_set()
        changes: list[KeyChange] = []
        for purpose in purposes:
            active = await self.keys.get_by_status(purpose, KeyStatus.ACTIVE)
            nxt = await self.keys.get_by_status(purpose, KeyStatus.NEXT)
            if active is None:
                # Never started, or its active key was revoked without a next: sign at once.
                created = await self._create(purpose, KeyStatus.ACTIVE, now=now)
                changes.append(
                    KeyChange(purpose, "created", created.kid, "active (there was none)")
                )
                if nxt is None:
                    nxt = await self._create(purpose, KeyStatus.NEXT, now=now)
                    changes.append(KeyChange(purpose, "created", nxt.kid, "next"))
                continue
            due_at = (active.activated_at or active.created_at) + policy.rotation_period
            if not force and now < due_at:
                changes.append(
                    KeyChange(
                        purpose, "not-due", active.kid, f"rotation due at {due_at.isoformat()}"
                    )
                )
                continue
            if nxt is None:
                nxt = await self._create(purpose, KeyStatus.NEXT, now=now)
                changes.append(
                    KeyChange(purpose, "created", nxt.kid, "next; promoted by a later rotation")
                )
                continue
            if nxt.kek_id != wrapper.kek_id:
                # It would sign nowhere: no replica holding this KEK could open it.
                changes.append(
                    KeyChange(
                        purpose,
                        "refused",
                        nxt.kid,
                        f"next key wrapped under key-encryption key {nxt.kek_id}, this process "
                        f"has {wrapper.kek_id}; revoke it or run with the right "
                        "AUTH_KEY_ENCRYPTION_KEY",
                    )
                )
                continue
            promotable_at = nxt.created_at + policy.publish_wait(purpose)
            if now < promotable_at:
                changes.append(
                    KeyChange(
                        purpose,
                        "waiting",
                        nxt.kid,
                        f"next key published at {nxt.created_at.isoformat()}; "
                        f"promotable at {promotable_at.isoformat()}",
                    )
                )
                continue
            old_kid, new_kid = active.kid, nxt.kid
            await self.keys.set_status(active, KeyStatus.RETIRED, at=now)
            await self.keys.set_status(nxt, KeyStatus.ACTIVE, at=now)
            fresh = await self._create(purpose, KeyStatus.NEXT, now=now)
            log.info(
                "signing key rotated",
                extra={"purpose": purpose.value, "retired": old_kid, "active": new_kid},
            )
            changes.append(
                KeyChange(purpose, "rotated", new_kid, f"retired {old_kid}; next {fresh.kid}")
            )
        if any(c.action in {"created", "rotated"} for c in changes):
            await self.keys.notify_key_set_changed()
        return changes

    async def revoke(self, *, kid: str, now: datetime) -> list[KeyChange]:
        """Compromise: drop a key from JWKS at once. A revoked active key is replaced by the next
        key immediately (no wait: the compromised key must stop signing now) and a new next key."""
        wrapper = self._wrapper()
        await self.keys.lock_key_set()
        key = await self.keys.get(kid)
        if key is None:
            raise KeyNotFoundError(f"no key with kid {kid!r}")
        purpose, status = KeyPurpose(key.purpose), KeyStatus(key.status)
        if status is KeyStatus.REVOKED:
            return [KeyChange(purpose, "revoked", kid, "already revoked")]
        await self.keys.set_status(key, KeyStatus.REVOKED, at=now)
        log.warning("signing key revoked", extra={"kid": kid, "purpose": purpose.value})
        changes = [KeyChange(purpose, "revoked", kid, f"was {status.value}")]
        if status is KeyStatus.ACTIVE:
            nxt = await self.keys.get_by_status(purpose, KeyStatus.NEXT)
            if nxt is not None and nxt.kek_id == wrapper.kek_id:
                await self.keys.set_status(nxt, KeyStatus.ACTIVE, at=now)
                changes.append(KeyChange(purpose, "rotated", nxt.kid, "next promoted early"))
            else:
                if nxt is not None:
                    await self.keys.set_status(nxt, KeyStatus.RETIRED, at=now)
                created = await self._create(purpose, KeyStatus.ACTIVE, now=now)
                changes.append(KeyChange(purpose, "created", created.kid, "active"))
        if status in (KeyStatus.ACTIVE, KeyStatus.NEXT):
            created = await self._create(purpose, KeyStatus.NEXT, now=now)
            changes.append(KeyChange(purpose, "created", created.kid, "next"))
        await self.keys.notify_key_set_changed()
        return changes

    async def prune(self, *, now: datetime) -> list[KeyChange]:
        """Delete retired keys whose grace period has ended, and revoked keys as old as that."""
        await self.keys.lock_key_set()
        doomed: list[SigningKey] = []
        for key in await self.keys.list_all():
            purpose = KeyPurpose(key.purpose)
            ended = key.retired_at if key.status == KeyStatus.RETIRED else key.revoked_at
            if ended is not None and ended + self.policy.grace(purpose) <= now:
                doomed.append(key)
        await self.keys.delete_kids([k.kid for k in doomed])
        if doomed:
            await self.keys.notify_key_set_changed()
        return [KeyChange(KeyPurpose(k.purpose), "pruned", k.kid, k.status) for k in doomed]

    async def list_keys(self) -> Sequence[SigningKey]:
        return await self.keys.list_all()
