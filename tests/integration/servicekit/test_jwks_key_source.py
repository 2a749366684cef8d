"""JwksKeySource against a real HTTP JWKS endpoint on loopback."""

from __future__ import annotations

import asyncio

import pytest

from servicekit.auth import InvalidToken, JwksKeySource, TokenVerifier
from tests.support.tokens import AUDIENCE, ISSUER, TestIssuer, serve_jwks


async def test_unknown_kid_refetches_at_most_once_per_cooldown() -> None:
    issuer = TestIssuer()
    with serve_jwks(issuer) as server:
        source = JwksKeySource(server.url, cooldown_s=30)
        verifier = TokenVerifier(key_source=source, issuer=ISSUER, audience=AUDIENCE)
        await verifier.verify(issuer.issue())
        assert server.requests == 1
        forged = issuer.sign(issuer.claims(), headers={"kid": "forged-kid"})
        for _ in range(20):
            with pytest.raises(InvalidToken):
                await verifier.verify(forged)
        assert server.requests == 2  # one refetch for the unknown kid, then the cooldown holds
        await source.aclose()


async def test_new_kid_is_picked_up_by_one_refetch() -> None:
    issuer = TestIssuer()
    with serve_jwks(issuer) as server:
        source = JwksKeySource(server.url, cooldown_s=0)
        verifier = TokenVerifier(key_source=source, issuer=ISSUER, audience=AUDIENCE)
        await verifier.verify(issuer.issue())
        new_kid = issuer.add_key()
        token = issuer.sign(issuer.claims(), kid=new_kid)
        assert (await verifier.verify(token)).subject == "user-1"
        await source.aclose()


async def test_concurrent_first_lookups_share_one_fetch() -> None:
    issuer = TestIssuer()
    with serve_jwks(issuer) as server:
        source = JwksKeySource(server.url)
        verifier = TokenVerifier(key_source=source, issuer=ISSUER, audience=AUDIENCE)
        tokens = [issuer.issue(sub=f"u{i}") for i in range(20)]
        await asyncio.gather(*(verifier.verify(t) for t in tokens))
        assert server.requests == 1
        await source.aclose()


async def test_stale_keys_keep_serving_when_auth_is_down() -> None:
    issuer = TestIssuer()
    with serve_jwks(issuer, max_age_s=0) as server:  # max-age floor applies: 5 s
        source = JwksKeySource(server.url, cooldown_s=0)
        verifier = TokenVerifier(key_source=source, issuer=ISSUER, audience=AUDIENCE)
        await verifier.verify(issuer.issue())
        server.failing = True
        source._fresh_until = 0  # the cached set is now stale
        assert (await verifier.verify(issuer.issue(sub="other"))).subject == "other"
        await asyncio.sleep(0)  # let the background refresh attempt run (and fail)
        assert (await verifier.verify(issuer.issue(sub="third"))).subject == "third"
        await source.aclose()


async def test_removed_key_stops_verifying_after_refresh() -> None:
    issuer = TestIssuer()
    with serve_jwks(issuer) as server:
        source = JwksKeySource(server.url, cooldown_s=0)
        verifier = TokenVerifier(key_source=source, issuer=ISSUER, audience=AUDIENCE)
        old_kid = issuer.kid
        token = issuer.issue()
        await verifier.verify(token)
        issuer.kid = issuer.add_key()
        issuer.remove_key(old_kid)  # revoked at auth
        await source.warm()  # the next refresh (max-age or unknown kid) sees the new set
        with pytest.raises(InvalidToken):
            await verifier.verify(token)  # the cached claims were dropped with the key set
        await source.aclose()


async def test_max_age_is_honoured() -> None:
    issuer = TestIssuer()
    with serve_jwks(issuer, max_age_s=120) as server:
        source = JwksKeySource(server.url)
        verifier = TokenVerifier(key_source=source, issuer=ISSUER, audience=AUDIENCE)
        for i in range(10):
            await verifier.verify(issuer.issue(sub=f"u{i}"))
        assert server.requests == 1
        await source.aclose()
