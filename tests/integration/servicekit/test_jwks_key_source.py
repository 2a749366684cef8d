"""JwksKeySource against a real HTTP JWKS endpoint on loopback."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from pydantic import ValidationError

from orders_service.settings import OrdersSettings
from servicekit.verify import InvalidToken, JwksKeySource, TokenVerifier, parse_jwks
from servicekit.verify.keys import InsecureJwksUrlError
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


# -- issue 12: the limits hold with no keys; production wants https; small keys refused -------


async def test_forged_tokens_while_auth_is_down_cost_a_couple_of_fetches() -> None:
    issuer = TestIssuer()
    with serve_jwks(issuer) as server:
        server.failing = True  # orders started while auth was down
        source = JwksKeySource(server.url, cooldown_s=30)
        verifier = TokenVerifier(key_source=source, issuer=ISSUER, audience=AUDIENCE)
        forged = issuer.sign(issuer.claims(), headers={"kid": "forged-kid"})
        for _ in range(200):
            with pytest.raises(InvalidToken):
                await verifier.verify(forged)
        assert server.requests <= 2
        await source.aclose()


async def test_forged_tokens_against_an_empty_key_set_cost_a_couple_of_fetches() -> None:
    issuer = TestIssuer()
    forged = issuer.issue()
    issuer.remove_key(issuer.kid)  # auth publishes no key at all
    with serve_jwks(issuer) as server:
        source = JwksKeySource(server.url, cooldown_s=30)
        verifier = TokenVerifier(key_source=source, issuer=ISSUER, audience=AUDIENCE)
        for _ in range(200):
            with pytest.raises(InvalidToken):
                await verifier.verify(forged)
        assert server.requests <= 2
        await source.aclose()


async def test_a_failed_fetch_is_retried_after_its_backoff_not_the_whole_cooldown() -> None:
    issuer = TestIssuer()
    with serve_jwks(issuer) as server:
        server.failing = True
        source = JwksKeySource(server.url, cooldown_s=30)
        verifier = TokenVerifier(key_source=source, issuer=ISSUER, audience=AUDIENCE)
        token = issuer.issue()
        with pytest.raises(InvalidToken):
            await verifier.verify(token)
        server.failing = False  # auth came up
        # The first backoff is 1 s: poll to a deadline well inside the 30 s cooldown.
        deadline = asyncio.get_running_loop().time() + 5
        while True:
            try:
                assert (await verifier.verify(token)).subject == "user-1"
                break
            except InvalidToken:
                assert asyncio.get_running_loop().time() < deadline, "no retry after backoff"
                await asyncio.sleep(0.1)
        assert server.requests == 2
        await source.aclose()


def test_production_refuses_a_plain_http_jwks_url() -> None:
    with pytest.raises(InsecureJwksUrlError):
        JwksKeySource("http://auth:8000/.well-known/jwks.json", require_https=True)
    JwksKeySource("https://auth.example.com/.well-known/jwks.json", require_https=True)
    JwksKeySource("http://auth:8000/.well-known/jwks.json", require_https=False)


@pytest.mark.parametrize(
    ("environment", "trusted", "url", "ok"),
    [
        ("production", False, "http://auth:8000/.well-known/jwks.json", False),
        ("production", True, "http://auth:8000/.well-known/jwks.json", True),
        ("production", False, "https://auth.example.com/.well-known/jwks.json", True),
        ("development", False, "http://127.0.0.1:8001/.well-known/jwks.json", True),
    ],
)
def test_orders_settings_want_https_jwks_in_production_unless_trusted(
    environment: str, trusted: bool, url: str, ok: bool
) -> None:
    values: dict[str, Any] = {
        "environment": environment,
        "jwks_url": url,
        "jwks_trusted_network": trusted,
        # Production refuses default secrets too; this test is about the JWKS URL only.
        "cursor_secret": "a-cursor-secret-only-this-test-uses",
    }
    if ok:
        settings = OrdersSettings(**values)
        assert settings.jwks_requires_https == (environment == "production" and not trusted)
    else:
        with pytest.raises(ValidationError, match="https"):
            OrdersSettings(**values)


def test_keys_under_2048_bits_are_refused() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - the point
    big = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    document = {
        "keys": [
            {**json.loads(RSAAlgorithm.to_jwk(k.public_key())), "kid": kid, "alg": "RS256"}
            for kid, k in (("small", small), ("big", big))
        ]
    }
    assert set(parse_jwks(document)) == {"big"}
