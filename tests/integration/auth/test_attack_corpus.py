"""Forged and broken tokens at a protected route: every one is a 401 with invalid_token.

The route is auth's own GET /api/v1/users/me, verified by servicekit's verifier over auth's
in-memory key ring: the same rules every resource server applies.
"""

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
from cryptography.hazmat.primitives.asymmetric import rsa

from auth_service.keys.models import KeyPurpose
from tests.support.auth_app import AUDIENCE, ISSUER, AuthApp

ME = "/api/v1/users/me"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(obj: dict[str, Any]) -> str:
    return _b64(json.dumps(obj, separators=(",", ":")).encode())


def _claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


async def _attacks(auth_app: AuthApp) -> dict[str, str]:
    user = await auth_app.create_user(roles=["viewer"])
    tokens = await auth_app.login(user, resource=ISSUER)
    good = tokens["access_token"]
    claims = _claims_of(good)
    signer = auth_app.keyring.signer(KeyPurpose.ACCESS)
    kid = signer.kid
    private = signer.private_key
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    now = int(time.time())
    header = {"alg": "RS256", "typ": "at+jwt", "kid": kid}

    def signed(payload: dict[str, Any], **head: Any) -> str:
        hdr = {**header, **head}
        return jwt.encode(payload, private, algorithm=hdr.pop("alg"), headers=hdr)

    hs_input = f"{_segment({**header, 'alg': 'HS256'})}.{_segment(claims)}".encode()
    hs_sig = _b64(hmac.new(public_pem, hs_input, hashlib.sha256).digest())
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    h, _, sig = good.split(".")
    return {
        "alg none": f"{_segment({**header, 'alg': 'none'})}.{_segment(claims)}.",
        "alg none, empty kid": f"{_segment({'alg': 'none'})}.{_segment(claims)}.",
        "HS256 with the RSA public key as secret": hs_input.decode() + "." + hs_sig,
        "RS512 with the real key": signed(claims, alg="RS512"),
        "PS256 with the real key": signed(claims, alg="PS256"),
        "unknown kid": signed(claims, kid="no-such-key-id"),
        "kid with a path": signed(claims, kid="../../../../etc/passwd"),
        "kid with SQL": signed(claims, kid="x' OR '1'='1"),
        "no kid": jwt.encode(claims, private, algorithm="RS256", headers={"typ": "at+jwt"}),
        "real kid, another key": jwt.encode(
            claims, stranger, algorithm="RS256", headers={"typ": "at+jwt", "kid": kid}
        ),
        "refresh token as access token": tokens["refresh_token"],
        "wrong typ": signed(claims, typ="JWT"),
        "expired": signed({**claims, "iat": now - 3600, "nbf": now - 3600, "exp": now - 60}),
        "nbf beyond leeway": signed({**claims, "nbf": now + 300}),
        "wrong iss": signed({**claims, "iss": "http://evil.test"}),
        "wrong aud": signed({**claims, "aud": "someone-else"}),
        "no tenant": signed({k: v for k, v in claims.items() if k != "tenant_id"}),
        "tampered payload": f"{h}.{_segment({**claims, 'roles': ['admin']})}.{sig}",
        "over the size limit": signed({**claims, "pad": "x" * 9000}),
        "garbage": "not-a-jwt",
        "three garbage segments": "a.b.c",
    }


async def test_the_untouched_token_is_accepted(auth_app: AuthApp) -> None:
    user = await auth_app.create_user()
    tokens = await auth_app.login(user, resource=ISSUER)
    response = await auth_app.client.get(
        ME, headers={"Authorization": "Bearer " + tokens["access_token"]}
    )
    assert response.status_code == 200


async def test_every_attack_is_a_401_invalid_token(auth_app: AuthApp) -> None:
    attacks = await _attacks(auth_app)
    failures = {}
    for name, token in attacks.items():
        response = await auth_app.client.get(ME, headers={"Authorization": f"Bearer {token}"})
        ok = (
            response.status_code == 401
            and response.headers.get("www-authenticate") == 'Bearer error="invalid_token"'
            and response.headers["content-type"] == "application/problem+json"
            and token not in response.text
        )
        if not ok:
            failures[name] = (response.status_code, response.text[:200])
    assert failures == {}
    assert len(attacks) >= 20


@pytest.mark.parametrize(
    "authorization", ["Bearer", "Bearer ", "Bearer    ", "Basic dXNlcjpwYXNz", "bearer"]
)
async def test_an_empty_or_non_bearer_credential_is_401(
    auth_app: AuthApp, authorization: str
) -> None:
    response = await auth_app.client.get(ME, headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_the_attack_tokens_use_the_issuer_and_audience_under_test(
    auth_app: AuthApp,
) -> None:
    # Guards the corpus itself: the "wrong iss/aud" cases differ only in that claim.
    user = await auth_app.create_user()
    claims = _claims_of((await auth_app.login(user))["access_token"])
    assert (claims["iss"], claims["aud"]) == (ISSUER, AUDIENCE)
