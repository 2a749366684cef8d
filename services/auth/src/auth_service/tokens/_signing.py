"""JWS compact tokens: access tokens (typ at+jwt, published keys) and refresh tokens
(typ refresh+jwt, keys never published). RS256 only, always with a kid."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jwt

from auth_service.keys._keyring import KeyRing
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


def new_jti() -> str:
    return uuid.uuid4().hex


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
    return jwt.encode(
        claims,
        signer.private_key,
        algorithm=ALGORITHM,
        headers={"typ": ACCESS_TYP, "kid": signer.kid},
    )


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
    return jwt.encode(
        claims,
        signer.private_key,
        algorithm=ALGORITHM,
        headers={"typ": REFRESH_TYP, "kid": signer.kid},
    )


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
