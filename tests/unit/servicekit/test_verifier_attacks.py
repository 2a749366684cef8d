"""The verifier's rules, one attack at a time (each must be refused)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from servicekit.verify import InvalidToken, TokenVerifier
from tests.support.tokens import AUDIENCE, ISSUER, TestIssuer

ISSUER_KEYS = TestIssuer()


def _verifier() -> TokenVerifier:
    return TokenVerifier(key_source=ISSUER_KEYS.static_source(), issuer=ISSUER, audience=AUDIENCE)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _tampered(token: str, **changes: Any) -> str:
    header, payload, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return ".".join([header, _b64({**claims, **changes}), sig])


async def test_a_well_formed_token_verifies() -> None:
    token = ISSUER_KEYS.issue(sub="u1", tenant_id="t1", roles=["editor"], client_id="c1")
    p = await _verifier().verify(token)
    assert (p.subject, p.tenant_id, p.roles, p.client_id) == ("u1", "t1", ("editor",), "c1")


def _public_pem() -> bytes:
    return (
        ISSUER_KEYS.keys[ISSUER_KEYS.kid]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def _attacks() -> dict[str, str]:
    kid = ISSUER_KEYS.kid
    good = ISSUER_KEYS.claims()
    now = int(time.time())
    none_token = f"{_b64({'alg': 'none', 'typ': 'at+jwt', 'kid': kid})}.{_b64(good)}."
    # The classic confusion attack: HMAC over the token with the RSA public key as the secret.
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'at+jwt', 'kid': kid})}.{_b64(good)}".encode()
    mac = hmac.new(_public_pem(), signing_input, hashlib.sha256).digest()
    hs_token = signing_input.decode() + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    return {
        "alg none": none_token,
        "HS256 with the public key as secret": hs_token,
        "RS512": ISSUER_KEYS.sign(good, algorithm="RS512"),
        "PS256": ISSUER_KEYS.sign(good, algorithm="PS256"),
        "unknown kid": ISSUER_KEYS.sign(good, headers={"kid": "nope"}),
        "kid with path characters": ISSUER_KEYS.sign(good, headers={"kid": "../../etc/passwd"}),
        "kid with SQL": ISSUER_KEYS.sign(good, headers={"kid": "x' OR '1'='1"}),
        "missing kid": jwt.encode(
            good, ISSUER_KEYS.keys[kid], algorithm="RS256", headers={"typ": "at+jwt"}
        ),
        "refresh token typ": ISSUER_KEYS.sign(good, headers={"typ": "refresh+jwt"}),
        "no typ": jwt.encode(good, ISSUER_KEYS.keys[kid], algorithm="RS256", headers={"kid": kid}),
        "expired": ISSUER_KEYS.sign(
            {**good, "exp": now - 120, "iat": now - 1000, "nbf": now - 1000}
        ),
        "nbf beyond leeway": ISSUER_KEYS.sign({**good, "nbf": now + 120}),
        "wrong iss": ISSUER_KEYS.sign({**good, "iss": "https://evil.example"}),
        "wrong aud": ISSUER_KEYS.sign({**good, "aud": "someone-else"}),
        "missing tenant": ISSUER_KEYS.sign({k: v for k, v in good.items() if k != "tenant_id"}),
        "missing jti": ISSUER_KEYS.sign({k: v for k, v in good.items() if k != "jti"}),
        "tampered payload": _tampered(ISSUER_KEYS.sign(good), roles=["admin"]),
        "oversized": ISSUER_KEYS.sign({**good, "pad": "x" * 9000}),
        "garbage": "not.a.jwt",
        "empty": "",
    }


@pytest.mark.parametrize("name", sorted(_attacks()))
async def test_attack_is_refused(name: str) -> None:
    token = _attacks()[name]
    with pytest.raises(InvalidToken) as info:
        await _verifier().verify(token)
    assert "." not in info.value.reason  # the reason names the rule, never echoes the token


async def test_leeway_accepts_small_clock_skew() -> None:
    now = int(time.time())
    token = ISSUER_KEYS.sign({**ISSUER_KEYS.claims(), "nbf": now + 10, "iat": now + 10})
    assert (await _verifier().verify(token)).subject == "user-1"


async def test_cached_claims_expire_with_the_token() -> None:
    """A cached principal is not served once its token is past exp (+ leeway)."""
    verifier = TokenVerifier(
        key_source=ISSUER_KEYS.static_source(), issuer=ISSUER, audience=AUDIENCE, leeway_s=30
    )
    now = int(time.time())
    token = ISSUER_KEYS.sign({**ISSUER_KEYS.claims(), "exp": now - 10})  # inside the leeway
    await verifier.verify(token)  # verified and cached
    verifier.leeway_s = 0  # the same moment, seen without leeway: the token is expired
    with pytest.raises(InvalidToken, match="expired"):
        await verifier.verify(token)


async def test_key_set_change_drops_cached_claims() -> None:
    issuer = TestIssuer()
    source = issuer.static_source()
    verifier = TokenVerifier(key_source=source, issuer=ISSUER, audience=AUDIENCE)
    token = issuer.issue()
    await verifier.verify(token)
    source.replace({})  # the key was revoked
    with pytest.raises(InvalidToken):
        await verifier.verify(token)
