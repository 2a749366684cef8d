"""The key ring: this process's loaded view of the key set.

Private keys are opened once (when a key becomes active) and kept as key objects; the JWKS
document is rendered once per change into bytes with its ETag. Requests only read a snapshot.
The ring is also the `KeySource` auth's own verifier uses: no HTTP call to itself.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from auth_service.keys._crypto import KeyDecryptionError, KeyWrapper, public_key_from_members
from auth_service.keys.models import KeyPurpose, KeyStatus, SigningKey
from auth_service.keys.service import ALGORITHM, KeyPolicy

log = logging.getLogger("auth_service.keys")

JWKS_MEDIA_TYPE = "application/jwk-set+json"


class NoSigningKeyError(Exception):
    """No usable active key for a purpose (its private half could not be opened)."""


@dataclass(frozen=True)
class Signer:
    kid: str
    private_key: RSAPrivateKey


@dataclass(frozen=True)
class _Entry:
    kid: str
    purpose: KeyPurpose
    status: KeyStatus
    n: str
    e: str
    public_key: RSAPublicKey
    published_until: float  # epoch seconds; inf while next or active

    @property
    def state(self) -> tuple[str, str, float]:
        return (self.kid, self.status.value, self.published_until)


@dataclass(frozen=True)
class _View:
    access: Mapping[str, RSAPublicKey]
    refresh: Mapping[str, RSAPublicKey]
    jwks_body: bytes
    etag: str
    valid_until: float  # the next time a retired key's grace period ends


def key_set_fingerprint(rows: Iterable[SigningKey]) -> str:
    """Same digest as repository.fingerprint computes in SQL (kid:status, sorted by kid)."""
    pairs = sorted((row.kid, row.status) for row in rows)
    if not pairs:
        return ""
    return hashlib.md5(  # noqa: S324 - a change detector, not a security digest
        ",".join(f"{kid}:{status}" for kid, status in pairs).encode()
    ).hexdigest()


class KeyRing:
    """Loaded keys for signing (active) and verifying (published or in grace)."""

    def __init__(
        self,
        *,
        policy: KeyPolicy,
        wrapper: KeyWrapper,
        clock: Callable[[], float] = time.time,
        miss_cooldown_s: float = 1.0,
    ) -> None:
        self._policy = policy
        self._wrapper = wrapper
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._opened: dict[str, RSAPrivateKey] = {}
        self._signers: dict[KeyPurpose, Signer] = {}
        self._generation = 0
        self._view = self._build()
        self.fingerprint = ""
        self._on_miss: Callable[[], Awaitable[object]] | None = None
        self._miss_cooldown_s = miss_cooldown_s
        self._last_miss = -math.inf
        self._miss_lock = asyncio.Lock()

    # -- loading ---------------------------------------------------------------------------

    def load(self, rows: Iterable[SigningKey]) -> bool:
        """Replace the loaded set with `rows` (all keys from the table). True if it changed."""
        rows = list(rows)
        entries: dict[str, _Entry] = {}
        for row in rows:
            status = KeyStatus(row.status)
            if status is KeyStatus.REVOKED:
                continue
            purpose = KeyPurpose(row.purpose)
            old = self._entries.get(row.kid)
            public = old.public_key if old else public_key_from_members(row.public_n, row.public_e)
            until = math.inf
            if status is KeyStatus.RETIRED:
                retired_at = (row.retired_at or row.created_at).timestamp()
                until = retired_at + self._policy.grace(purpose).total_seconds()
            entries[row.kid] = _Entry(
                row.kid, purpose, status, row.public_n, row.public_e, public, until
            )

        signers: dict[KeyPurpose, Signer] = {}
        for row in rows:
            if row.status != KeyStatus.ACTIVE:
                continue
            purpose = KeyPurpose(row.purpose)
            try:
                private = self._opened.get(row.kid) or self._wrapper.unwrap(
                    row.private_key_wrapped, kid=row.kid, purpose=row.purpose
                )
            except KeyDecryptionError:
                log.error(
                    "cannot open the active signing key with this key-encryption key",
                    extra={"kid": row.kid, "purpose": row.purpose, "kek_id": row.kek_id},
                )
                previous = self._signers.get(purpose)
                # Keep signing with the previous key while it still verifies (retired, in grace).
                if previous is not None and previous.kid in entries:
                    signers[purpose] = previous
                continue
            signers[purpose] = Signer(row.kid, private)

        changed = {k: e.state for k, e in entries.items()} != {
            k: e.state for k, e in self._entries.items()
        } or {p: s.kid for p, s in signers.items()} != {p: s.kid for p, s in self._signers.items()}
        self._entries = entries
        self._signers = signers
        self._opened = {s.kid: s.private_key for s in signers.values()}
        self.fingerprint = key_set_fingerprint(rows)
        if changed:
            self._view = self._build()
            self._generation += 1
        return changed

    def _build(self) -> _View:
        now = self._clock()
        live = [e for e in self._entries.values() if e.published_until > now]
        order = {KeyStatus.ACTIVE: 0, KeyStatus.NEXT: 1, KeyStatus.RETIRED: 2}
        published = sorted(
            (e for e in live if e.purpose is KeyPurpose.ACCESS),
            key=lambda e: (order[e.status], e.kid),
        )
        jwks = {
            "keys": [
                {"kty": "RSA", "kid": e.kid, "use": "sig", "alg": ALGORITHM, "n": e.n, "e": e.e}
                for e in published
            ]
        }
        body = json.dumps(jwks, separators=(",", ":")).encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(body).digest()[:18]).decode()
        return _View(
            access={e.kid: e.public_key for e in published},
            refresh={e.kid: e.public_key for e in live if e.purpose is KeyPurpose.REFRESH},
            jwks_body=body,
            etag=f'"{digest}"',
            valid_until=min((e.published_until for e in live), default=math.inf),
        )

    def _current(self) -> _View:
        view = self._view
        if self._clock() >= view.valid_until:
            # A retired key's grace period ended: it leaves JWKS and stops verifying now.
            self._view = view = self._build()
            self._generation += 1
        return view

    # -- reading ---------------------------------------------------------------------------

    @property
    def generation(self) -> int:
        """Bumps whenever the verifying set changes; verifiers drop cached claims then."""
        self._current()
        return self._generation

    def set_miss_handler(self, handler: Callable[[], Awaitable[object]]) -> None:
        """Called (at most once per cooldown) when a kid is unknown: another replica or the
        CLI may have changed the key set a moment ago."""
        self._on_miss = handler

    async def _after_miss(self) -> bool:
        if self._on_miss is None:
            return False
        async with self._miss_lock:
            now = time.monotonic()
            if now - self._last_miss < self._miss_cooldown_s:
                return False
            self._last_miss = now
            try:
                await self._on_miss()
            except Exception:
                log.warning("key set reload after an unknown kid failed", exc_info=True)
                return False
            return True

    async def get(self, kid: str) -> RSAPublicKey | None:
        """KeySource: the public key of a published access key, or None."""
        key = self._current().access.get(kid)
        if key is None and await self._after_miss():
            key = self._current().access.get(kid)
        return key

    async def get_refresh(self, kid: str) -> RSAPublicKey | None:
        """The public key of a refresh key that may still verify (never published)."""
        key = self._current().refresh.get(kid)
        if key is None and await self._after_miss():
            key = self._current().refresh.get(kid)
        return key

    def signer(self, purpose: KeyPurpose) -> Signer:
        signer = self._signers.get(purpose)
        if signer is None:
            raise NoSigningKeyError(purpose.value)
        return signer

    def jwks(self) -> tuple[bytes, str]:
        """The JWKS document as bytes and its strong ETag."""
        view = self._current()
        return view.jwks_body, view.etag

    def published_kids(self) -> list[str]:
        return list(self._current().access)
