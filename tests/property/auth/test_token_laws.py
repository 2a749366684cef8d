"""Laws of auth's tokens and keys, checked with Hypothesis against real keys and PostgreSQL."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from auth_service.keys._crypto import KeyWrapper
from auth_service.keys._watcher import KeySetWatcher
from auth_service.keys.keyring import KeyRing
from auth_service.keys.models import KeyPurpose
from auth_service.keys.service import KeyPolicy, KeyService
from auth_service.tokens._signing import sign_access_token
from servicekit.data.db import create_engine, create_sessionmaker
from servicekit.verify import InvalidToken, TokenVerifier
from tests.support.auth_app import (
    AUDIENCE,
    ISSUER,
    KEK_B64,
    AuthApp,
    auth_settings,
    fresh_auth_database,
    running_auth,
)
from tests.support.backends import Backends

WRAPPER = KeyWrapper(base64.b64decode(KEK_B64))
ROLES = st.lists(st.sampled_from(["viewer", "editor", "admin"]), min_size=1, max_size=3)
# Database-heavy laws: bounded, so `make test` stays inside its budget.
DB_EXAMPLES = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _verifier(keyring: KeyRing) -> TokenVerifier:
    return TokenVerifier(key_source=keyring, issuer=ISSUER, audience=AUDIENCE)


# -- law 1 ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def own_app(backends: Backends) -> AsyncIterator[AuthApp]:
    """An app on a database of its own: this law revokes keys."""
    async with (
        fresh_auth_database(backends.postgres_url) as url,
        running_auth(auth_settings(url)) as app,
    ):
        yield app


ACTIONS = st.lists(
    st.one_of(
        st.tuples(st.just("client"), ROLES),
        st.tuples(st.just("user"), ROLES),
        st.tuples(st.just("revoke active key"), st.just([])),
    ),
    min_size=1,
    max_size=4,
)


@DB_EXAMPLES
@given(actions=ACTIONS)
async def test_every_issued_access_token_has_alg_rs256_and_a_kid_in_the_jwks(
    own_app: AuthApp, actions: list[tuple[str, list[Any]]]
) -> None:
    """For any sequence of issuances (clients, users) and key revocations, every access
    token the token endpoint issues has alg RS256, typ at+jwt, and a kid the JWKS publishes."""
    for action, roles in actions:
        if action == "revoke active key":
            async with own_app.resources.sessionmaker.begin() as session:
                await KeyService(
                    session, policy=KeyPolicy.from_settings(own_app.settings), wrapper=WRAPPER
                ).revoke(kid=own_app.keyring.signer(KeyPurpose.ACCESS).kid, now=datetime.now(UTC))
            watcher: KeySetWatcher = own_app.state.key_watcher
            await watcher.reload()
            continue
        if action == "client":
            token = await own_app.client_token(await own_app.create_client(roles=roles))
        else:
            token = (await own_app.login(await own_app.create_user(roles=roles)))["access_token"]
        header = jwt.get_unverified_header(token)
        assert header["alg"] == "RS256"
        assert header["typ"] == "at+jwt"
        jwks = (await own_app.client.get("/.well-known/jwks.json")).json()
        assert header["kid"] in {k["kid"] for k in jwks["keys"]}


# -- law 2 ----------------------------------------------------------------------------------

TEXT = st.text(min_size=1, max_size=64).filter(lambda s: "\x00" not in s)


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    subject=TEXT,
    tenant_id=TEXT,
    roles=st.lists(TEXT, max_size=5),
    client_id=st.none() | TEXT,
    ttl_s=st.integers(min_value=300, max_value=1800),
)
async def test_for_any_claims_payload_sign_then_verify_returns_the_same_claims(
    auth_app: AuthApp,
    subject: str,
    tenant_id: str,
    roles: list[str],
    client_id: str | None,
    ttl_s: int,
) -> None:
    """For any subject, tenant, roles, client id and lifetime, verifying what was signed
    yields exactly those claims (unicode and all), with exp = iat + lifetime."""
    now = int(time.time())
    token = sign_access_token(
        auth_app.keyring,
        issuer=ISSUER,
        audience=AUDIENCE,
        subject=subject,
        tenant_id=tenant_id,
        roles=roles,
        client_id=client_id,
        now=now,
        ttl_s=ttl_s,
    )
    principal = await _verifier(auth_app.keyring).verify(token)
    assert principal.subject == subject
    assert principal.tenant_id == tenant_id
    assert principal.roles == tuple(roles)
    assert principal.client_id == client_id
    assert principal.expires_at == now + ttl_s
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iat"] == claims["nbf"] == now
    assert claims["jti"] == principal.token_id


# -- law 3 ----------------------------------------------------------------------------------


@dataclass
class KeyWorld:
    """A key table of its own and a ring reading it on a clock the test moves forward."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    policy: KeyPolicy
    clock: list[float]
    ring: KeyRing
    watcher: KeySetWatcher

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock[0], UTC)

    def advance(self, delta: timedelta) -> None:
        self.clock[0] += delta.total_seconds()


@pytest.fixture(scope="module")
async def world(backends: Backends) -> AsyncIterator[KeyWorld]:
    async with fresh_auth_database(backends.postgres_url) as url:
        settings_ = auth_settings(url)
        engine = create_engine(settings_)
        sessions = create_sessionmaker(engine)
        policy = KeyPolicy.from_settings(settings_)
        # Whole seconds: the database keeps microseconds, so boundaries compare exactly.
        clock = [float(int(time.time()))]
        ring = KeyRing(policy=policy, wrapper=WRAPPER, clock=lambda: clock[0])
        watcher = KeySetWatcher(
            keyring=ring, sessionmaker=sessions, database_url=url, interval_s=60
        )
        async with sessions.begin() as session:
            await KeyService(session, policy=policy, wrapper=WRAPPER).ensure_keys(
                now=datetime.fromtimestamp(clock[0], UTC), replace_unopenable=False
            )
        await watcher.reload()
        try:
            yield KeyWorld(engine, sessions, policy, clock, ring, watcher)
        finally:
            await engine.dispose()


def _sign(ring: KeyRing) -> str:
    return sign_access_token(
        ring,
        issuer=ISSUER,
        audience=AUDIENCE,
        subject="s",
        tenant_id="t",
        roles=["viewer"],
        client_id=None,
        now=int(time.time()),
        ttl_s=900,
    )


async def _verifies(verifier: TokenVerifier, token: str) -> bool:
    try:
        await verifier.verify(token)
    except InvalidToken:
        return False
    return True


@DB_EXAMPLES
@given(rotations=st.integers(min_value=1, max_value=3), ending=st.sampled_from(["prune", "revoke"]))
async def test_after_any_number_of_rotations_a_retired_key_verifies_until_its_grace_ends(
    world: KeyWorld, rotations: int, ending: str
) -> None:
    """After any number of rotations, a token signed by a now-retired key still verifies
    until that key's grace period ends; once the key is pruned, or revoked, it fails."""
    verifier = _verifier(world.ring)
    signed: list[tuple[str, str]] = []  # (kid, token) for each key that was active
    for _ in range(rotations):
        signed.append((world.ring.signer(KeyPurpose.ACCESS).kid, _sign(world.ring)))
        world.advance(world.policy.access_publish_wait)  # the next key was published long enough
        async with world.sessions.begin() as session:
            changes = await KeyService(session, policy=world.policy, wrapper=WRAPPER).rotate(
                purposes=[KeyPurpose.ACCESS], now=world.now(), force=True
            )
        assert [c.action for c in changes] == ["rotated"]
        await world.watcher.reload()
    retired_at = world.now()  # the last rotation retired the last of `signed`
    for _, token in signed:
        assert await _verifies(verifier, token)  # every one of them is within its grace
    last_kid, last_token = signed[-1]
    if ending == "revoke":
        async with world.sessions.begin() as session:
            await KeyService(session, policy=world.policy, wrapper=WRAPPER).revoke(
                kid=last_kid, now=world.now()
            )
        await world.watcher.reload()
        assert not await _verifies(verifier, last_token)
        return
    world.advance(retired_at + world.policy.access_grace - world.now() - timedelta(seconds=1))
    assert await _verifies(verifier, last_token)  # one second before the grace ends
    world.advance(timedelta(seconds=1))
    assert not await _verifies(verifier, last_token)  # the grace ended: gone from the ring
    async with world.sessions.begin() as session:
        pruned = await KeyService(session, policy=world.policy).prune(now=world.now())
    await world.watcher.reload()
    assert last_kid in {c.kid for c in pruned}
    assert not await _verifies(verifier, last_token)
    for _, token in signed:
        assert not await _verifies(verifier, token)


# -- law 4 ----------------------------------------------------------------------------------

KIDS = st.text(
    alphabet=st.characters(codec="ascii", exclude_categories=["Cc"]), min_size=1, max_size=128
)


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kid=KIDS)
async def test_a_token_whose_kid_is_not_in_the_jwks_fails_with_invalid_token(
    auth_app: AuthApp, kid: str
) -> None:
    """For any kid the JWKS does not publish, a token signed with the real active private key
    under that kid is refused: by the verifier, and as a 401 invalid_token over HTTP."""
    published = {
        k["kid"] for k in (await auth_app.client.get("/.well-known/jwks.json")).json()["keys"]
    }
    if kid in published:
        return
    signer = auth_app.keyring.signer(KeyPurpose.ACCESS)
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": "s",
        "aud": AUDIENCE,
        "exp": now + 600,
        "iat": now,
        "nbf": now,
        "jti": "j",
        "roles": ["admin"],
        "tenant_id": "t",
    }
    token = jwt.encode(
        claims, signer.private_key, algorithm="RS256", headers={"typ": "at+jwt", "kid": kid}
    )
    with pytest.raises(InvalidToken):
        await _verifier(auth_app.keyring).verify(token)
    response = await auth_app.client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
