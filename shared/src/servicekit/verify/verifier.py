"""Access-token verification: RS256 only, strict header and claims, verified-claims cache."""

from __future__ import annotations

import hashlib
import re
import time
from typing import Any

import jwt

from servicekit.verify.keys import KeySource
from servicekit.verify.principal import Principal

ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
_KID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_REQUIRED_CLAIMS = ["iss", "sub", "aud", "exp", "iat", "nbf", "jti"]


class InvalidToken(Exception):  # noqa: N818 - the RFC 6750 error name reads better here
    """The token cannot be trusted. `reason` is safe to log; it never contains the token."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class TokenVerifier:
    """Verify access tokens issued by auth.

    Verified claims are cached until the token expires, keyed by a SHA-256 of the token (the
    raw bearer string is never kept); the cache is dropped when the key source's key set
    changes, so a revoked key stops verifying at the next JWKS refresh.
    """

    def __init__(
        self,
        *,
        key_source: KeySource,
        issuer: str,
        audience: str,
        leeway_s: int = 30,
        max_token_bytes: int = 8192,
        cache_size: int = 50_000,
    ) -> None:
        self.key_source = key_source
        self.issuer = issuer
        self.audience = audience
        self.leeway_s = leeway_s
        self.max_token_bytes = max_token_bytes
        self.cache_size = cache_size
        self._cache: dict[bytes, Principal] = {}
        self._cache_generation = key_source.generation

    async def verify(self, token: str) -> Principal:
        if not token or len(token) > self.max_token_bytes:
            raise InvalidToken("missing or oversized token")
        digest = hashlib.sha256(token.encode()).digest()
        if self.key_source.generation != self._cache_generation:
            self._cache.clear()
            self._cache_generation = self.key_source.generation
        cached = self._cache.get(digest)
        if cached is not None:
            if time.time() <= cached.expires_at + self.leeway_s:
                return cached
            del self._cache[digest]
        principal = await self._verify_uncached(token)
        if len(self._cache) >= self.cache_size:
            # Drop the oldest entry (dicts keep insertion order): a cheap bounded cache.
            self._cache.pop(next(iter(self._cache)))
        self._cache[digest] = principal
        return principal

    async def _verify_uncached(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("malformed token") from None
        if header.get("alg") != "RS256":
            raise InvalidToken("algorithm not allowed")
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES:
            raise InvalidToken("not an access token")
        kid = header.get("kid")
        if not isinstance(kid, str) or not _KID.match(kid):
            raise InvalidToken("missing or malformed kid")
        key = await self.key_source.get(kid)
        if key is None:
            raise InvalidToken("unknown kid")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=["RS256"],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_s,
                options={"require": _REQUIRED_CLAIMS, "verify_signature": True},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("token expired") from None
        except jwt.ImmatureSignatureError:
            raise InvalidToken("token not yet valid") from None
        except jwt.PyJWTError:
            raise InvalidToken("signature or claims invalid") from None
        return _principal(claims)


def _principal(claims: dict[str, Any]) -> Principal:
    tenant, roles, sub, jti = (
        claims.get("tenant_id"),
        claims.get("roles"),
        claims.get("sub"),
        claims.get("jti"),
    )
    client_id = claims.get("client_id")
    if not isinstance(tenant, str) or not tenant:
        raise InvalidToken("tenant_id missing")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise InvalidToken("roles missing")
    if not isinstance(sub, str) or not sub or not isinstance(jti, str):
        raise InvalidToken("subject missing")
    if client_id is not None and not isinstance(client_id, str):
        raise InvalidToken("client_id malformed")
    return Principal(
        subject=sub,
        tenant_id=tenant,
        roles=tuple(roles),
        client_id=client_id,
        token_id=jti,
        expires_at=int(claims["exp"]),
    )
