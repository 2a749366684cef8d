"""The in-memory key ring: what it publishes, signs with and verifies, as time passes."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

from auth_service.keys._crypto import (
    KeyWrapper,
    generate_private_key,
    public_jwk_members,
    thumbprint,
)
from auth_service.keys.keyring import KeyRing
from auth_service.keys.models import KeyPurpose, KeyStatus, SigningKey
from auth_service.keys.service import KeyPolicy
from auth_service.settings import AuthSettings

WRAPPER = KeyWrapper(os.urandom(32))
POLICY = KeyPolicy.from_settings(AuthSettings())
T0 = datetime(2026, 1, 1, tzinfo=UTC)
# A few real keys, made once: generating RSA keys is the slow part.
PRIVATE = [generate_private_key(2048) for _ in range(4)]


class Clock:
    def __init__(self, at: datetime) -> None:
        self.now = at.timestamp()

    def __call__(self) -> float:
        return self.now

    def set(self, at: datetime) -> None:
        self.now = at.timestamp()


def row(
    index: int,
    status: KeyStatus,
    *,
    purpose: KeyPurpose = KeyPurpose.ACCESS,
    retired_at: datetime | None = None,
    wrapper: KeyWrapper = WRAPPER,
) -> SigningKey:
    key = PRIVATE[index]
    kid = thumbprint(key.public_key())
    members = public_jwk_members(key.public_key())
    return SigningKey(
        kid=kid,
        purpose=purpose.value,
        status=status.value,
        algorithm="RS256",
        key_size=2048,
        public_n=members["n"],
        public_e=members["e"],
        private_key_wrapped=wrapper.wrap(key, kid=kid, purpose=purpose.value),
        kek_id=wrapper.kek_id,
        created_at=T0,
        activated_at=T0,
        retired_at=retired_at,
        revoked_at=T0 if status is KeyStatus.REVOKED else None,
    )


def kids_in(ring: KeyRing) -> list[str]:
    body, _ = ring.jwks()
    return [k["kid"] for k in json.loads(body)["keys"]]


async def test_jwks_holds_active_next_and_retired_access_keys_never_refresh_or_revoked() -> None:
    clock = Clock(T0)
    ring = KeyRing(policy=POLICY, wrapper=WRAPPER, clock=clock)
    active, nxt = row(0, KeyStatus.ACTIVE), row(1, KeyStatus.NEXT)
    retired = row(2, KeyStatus.RETIRED, retired_at=T0)
    refresh = row(3, KeyStatus.ACTIVE, purpose=KeyPurpose.REFRESH)
    assert ring.load([active, nxt, retired, refresh])
    assert kids_in(ring) == [active.kid, nxt.kid, retired.kid]  # active first
    assert ring.signer(KeyPurpose.ACCESS).kid == active.kid
    assert ring.signer(KeyPurpose.REFRESH).kid == refresh.kid
    assert await ring.get(refresh.kid) is None  # refresh keys never verify access tokens
    assert await ring.get_refresh(refresh.kid) is not None
    revoked = row(2, KeyStatus.REVOKED)
    ring.load([active, nxt, revoked, refresh])
    assert revoked.kid not in kids_in(ring)
    assert await ring.get(revoked.kid) is None


async def test_a_retired_key_verifies_until_its_grace_ends_then_leaves_and_bumps_generation() -> (
    None
):
    clock = Clock(T0)
    ring = KeyRing(policy=POLICY, wrapper=WRAPPER, clock=clock)
    retired = row(2, KeyStatus.RETIRED, retired_at=T0)
    ring.load([row(0, KeyStatus.ACTIVE), retired])
    generation = ring.generation
    clock.set(T0 + POLICY.access_grace - timedelta(seconds=1))
    assert await ring.get(retired.kid) is not None
    assert ring.generation == generation
    clock.set(T0 + POLICY.access_grace)
    assert await ring.get(retired.kid) is None
    assert retired.kid not in kids_in(ring)
    assert ring.generation == generation + 1


def test_the_etag_and_generation_change_only_when_the_key_set_does() -> None:
    ring = KeyRing(policy=POLICY, wrapper=WRAPPER, clock=Clock(T0))
    rows = [row(0, KeyStatus.ACTIVE), row(1, KeyStatus.NEXT)]
    ring.load(rows)
    _, etag = ring.jwks()
    generation = ring.generation
    assert not ring.load(rows)
    assert (ring.jwks()[1], ring.generation) == (etag, generation)
    ring.load([row(1, KeyStatus.ACTIVE), row(0, KeyStatus.RETIRED, retired_at=T0)])
    assert ring.jwks()[1] != etag
    assert ring.generation == generation + 1


def test_an_active_key_it_cannot_open_leaves_the_previous_signer_in_place() -> None:
    ring = KeyRing(policy=POLICY, wrapper=WRAPPER, clock=Clock(T0))
    first = row(0, KeyStatus.ACTIVE)
    ring.load([first])
    foreign = row(1, KeyStatus.ACTIVE, wrapper=KeyWrapper(os.urandom(32)))
    ring.load([row(0, KeyStatus.RETIRED, retired_at=T0), foreign])
    # The new key cannot sign here; the old one still verifies, so it keeps signing.
    assert ring.signer(KeyPurpose.ACCESS).kid == first.kid


async def test_an_unknown_kid_reloads_at_most_once_per_cooldown() -> None:
    ring = KeyRing(policy=POLICY, wrapper=WRAPPER, clock=Clock(T0), miss_cooldown_s=60)
    ring.load([row(0, KeyStatus.ACTIVE)])
    calls: list[int] = []
    later = row(1, KeyStatus.NEXT)

    async def reload() -> None:
        calls.append(1)
        ring.load([row(0, KeyStatus.ACTIVE), later])

    ring.set_miss_handler(reload)
    assert await ring.get(later.kid) is not None  # found after one reload
    for _ in range(5):
        assert await ring.get("forged-kid") is None
    assert len(calls) == 1
