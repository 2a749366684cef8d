"""JWS compact tokens: access tokens (typ at+jwt, published keys) and refresh tokens
(typ refresh+jwt, keys never published). RS256 only, always with a kid.

Signing is RFC 7515 compact serialization by hand: the header segment of each (kid, typ) is
encoded once, the claims with one compact JSON encoding, and `cryptography` signs. PyJWT's
`encode` rebuilt and re-validated the header and key on every call: in a profile of the
client_credentials grant it cost a fifth as much as the RSA signature itself. Verification
stays with PyJWT (decode_refresh_token) and servicekit's verifier.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from pydantic_core import to_json

from auth_service.keys.keyring import KeyRing
from auth_service.keys.models import KeyPurpose

ALGORITHM = "RS256"
ACCESS_TYP = "at+jwt"
REFRESH_TYP = "refresh+jwt"
# Larger than any token this server issues; a bigger one is rejected before any parsing.
MAX_TOKEN_BYTES = 8192


class InvalidRefreshTokenError(Exception):
    """Not a refresh token this server issued, or no longer valid (reason for logs only)."""


@dataclass(frozen=True, slots=True)
class RefreshClaims:
    jti: str
    subject: str
    family_id: str
    expires_at: int


_PKCS1V15 = padding.PKCS1v15()
_SHA256 = hashes.SHA256()


def new_jti() -> str:
    return uuid.uuid4().hex


def _b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _json(value: Any) -> bytes:
    # Compact UTF-8 JSON of plain str/int/list claims: pydantic_core's encoder is ~6x faster
    # than json.dumps here, and a token is signed on every request of the hot path.
    return to_json(value)


@lru_cache(maxsize=64)
def _header_segment(kid: str, typ: str) -> bytes:
    return _b64url(_json({"alg": ALGORITHM, "typ": typ, "kid": kid}))


def _compact_jws(claims: dict[str, Any], key: RSAPrivateKey, *, kid: str, typ: str) -> str:
    signing_input = _header_segment(kid, typ) + b"." + _b64url(_json(claims))
    signature = key.sign(signing_input, _PKCS1V15, _SHA256)
    return (signing_input + b"." + _b64url(signature)).decode("ascii")


def sign_access_token(
    keyring: KeyRing,
    *,
    issuer: str,
    audience: str,
    subject: str,
    tenant_id: str,
    roles: Sequence[str],
    client_id: str | None,
    now: int,
    ttl_s: int,
) -> str:
    signer = keyring.signer(KeyPurpose.ACCESS)
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": subject,
        "aud": audience,
        "exp": now + ttl_s,
        "iat": now,
        "nbf": now,
        "jti": new_jti(),
        "roles": list(roles),
        "tenant_id": tenant_id,
    }
    if client_id is not None:
        claims["client_id"] = client_id
    return _compact_jws(claims, signer.private_key, kid=signer.kid, typ=ACCESS_TYP)


def sign_refresh_token(
    keyring: KeyRing,
    *,
    issuer: str,
    subject: str,
    jti: str,
    family_id: str,
    now: int,
    expires_at: int,
) -> str:
    signer = keyring.signer(KeyPurpose.REFRESH)
    claims = {
        "iss": issuer,
        "sub": subject,
        # Audience is the issuer itself: no resource server accepts a refresh token.
        "aud": issuer,
        "exp": expires_at,
        "iat": now,
        "nbf": now,
        "jti": jti,
        "fid": family_id,
    }
    return _compact_jws(claims, signer.private_key, kid=signer.kid, typ=REFRESH_TYP)


async def decode_refresh_token(
    token: str, *, keyring: KeyRing, issuer: str, leeway_s: int
) -> RefreshClaims:
    """Verify a refresh token: RS256, typ refresh+jwt, a refresh key's kid, iss/aud/exp."""
    if not token or len(token) > MAX_TOKEN_BYTES:
        raise InvalidRefreshTokenError("empty or oversized")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise InvalidRefreshTokenError("malformed") from None
    kid = header.get("kid")
    if (
        header.get("alg") != ALGORITHM
        or header.get("typ") != REFRESH_TYP
        or not isinstance(kid, str)
    ):
        raise InvalidRefreshTokenError("wrong header")
    key = await keyring.get_refresh(kid)
    if key is None:
        raise InvalidRefreshTokenError("unknown kid")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=issuer,
            issuer=issuer,
            leeway=leeway_s,
            options={"require": ["exp", "iat", "nbf", "jti", "sub", "iss", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidRefreshTokenError(type(exc).__name__) from None
    jti, sub, fid = claims.get("jti"), claims.get("sub"), claims.get("fid")
    if not (isinstance(jti, str) and isinstance(sub, str) and isinstance(fid, str)):
        raise InvalidRefreshTokenError("claims of the wrong type")
    return RefreshClaims(jti=jti, subject=sub, family_id=fid, expires_at=int(claims["exp"]))
