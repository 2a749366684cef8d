"""The grants of POST /oauth/token and the revocation of POST /oauth/revoke.

Grant failures are `OAuthError`s the endpoint turns into RFC 6749 error bodies. The endpoint
returns them as responses (it does not raise), so the writes a failure must keep (a failed
login counted, a reused refresh token's family revoked) are committed with the request.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.clients import service as clients
from auth_service.clients._cache import CredentialsCache
from auth_service.keys.keyring import KeyRing
from auth_service.settings import AuthSettings
from auth_service.tokens import repository
from auth_service.tokens._signing import (
    InvalidRefreshTokenError,
    decode_refresh_token,
    new_jti,
    sign_access_token,
    sign_refresh_token,
)
from auth_service.tokens.models import RefreshStatus, RefreshToken
from auth_service.users import repository as users_repository
from auth_service.users import service as users
from auth_service.users.models import User
from auth_service.users.service import PasswordCheck

log = logging.getLogger("auth_service.tokens")
security_log = logging.getLogger("auth_service.security")


class OAuthError(Exception):
    """An RFC 6749 section 5.2 error: `error` code, description, HTTP status."""

    def __init__(
        self, error: str, description: str, *, status: int = 400, basic_challenge: bool = False
    ) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status
        self.basic_challenge = basic_challenge


def invalid_client() -> OAuthError:
    return OAuthError(
        "invalid_client", "client authentication failed", status=401, basic_challenge=True
    )


_BAD_CREDENTIALS = "invalid username or password"
_BAD_REFRESH = "the refresh token is invalid, expired or revoked"


@dataclass(frozen=True, slots=True)
class TokenGrant:
    access_token: str
    expires_in: int
    refresh_token: str | None = None


def _ts(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def audience_for(resource: str | None, settings: AuthSettings) -> str:
    """RFC 8707: the audience a `resource` asks for. Two resource servers exist: orders (the
    default audience) and auth's own admin API, named by auth's issuer."""
    if resource is None or resource == settings.audience:
        return settings.audience
    if resource.rstrip("/") == settings.issuer:
        return settings.issuer
    raise OAuthError("invalid_target", "resource names no resource server of this issuer")


async def client_credentials_grant(
    credentials_pool: Any,
    *,
    client_id: str,
    client_secret: str,
    audience: str,
    keyring: KeyRing,
    settings: AuthSettings,
    now: int,
    cache: CredentialsCache | None = None,
) -> TokenGrant:
    client = await clients.authenticate(
        credentials_pool, client_id=client_id, client_secret=client_secret, cache=cache
    )
    if client is None:
        raise invalid_client()
    token = sign_access_token(
        keyring,
        issuer=settings.issuer,
        audience=audience,
        subject=client.client_id,
        tenant_id=client.tenant_id,
        roles=client.roles,
        client_id=client.client_id,
        now=now,
        ttl_s=settings.access_token_ttl_s,
    )
    # RFC 6749 4.4.3: no refresh token for client credentials; the client just asks again.
    return TokenGrant(token, settings.access_token_ttl_s)


async def _issue_for_user(
    session: AsyncSession,
    *,
    user: User,
    client_id: str,
    audience: str,
    family_id: uuid.UUID,
    family_expires_at: int,
    keyring: KeyRing,
    settings: AuthSettings,
    now: int,
) -> tuple[TokenGrant, str]:
    access = sign_access_token(
        keyring,
        issuer=settings.issuer,
        audience=audience,
        subject=str(user.id),
        tenant_id=user.tenant_id,
        roles=user.roles,
        client_id=client_id,
        now=now,
        ttl_s=settings.access_token_ttl_s,
    )
    jti = new_jti()
    refresh = sign_refresh_token(
        keyring,
        issuer=settings.issuer,
        subject=str(user.id),
        jti=jti,
        family_id=str(family_id),
        now=now,
        expires_at=family_expires_at,
    )
    await repository.add(
        session,
        RefreshToken(
            jti=jti,
            family_id=family_id,
            user_id=user.id,
            client_id=client_id,
            status=RefreshStatus.ACTIVE.value,
            issued_at=_ts(now),
            expires_at=_ts(family_expires_at),
        ),
    )
    return TokenGrant(access, settings.access_token_ttl_s, refresh), jti


async def password_grant(
    session: AsyncSession,
    *,
    check: PasswordCheck,
    client_id: str,
    audience: str,
    keyring: KeyRing,
    settings: AuthSettings,
    now: int,
) -> TokenGrant:
    """Finish a login whose password was checked (users.check_password, outside any
    transaction): record the outcome and, on success, issue tokens bound to the client."""
    user = await users.record_login(session, check, settings=settings, now=_ts(now))
    if user is None:
        raise OAuthError("invalid_grant", _BAD_CREDENTIALS)
    grant, _ = await _issue_for_user(
        session,
        user=user,
        client_id=client_id,
        audience=audience,
        family_id=uuid.uuid4(),
        family_expires_at=now + settings.refresh_token_ttl_s,
        keyring=keyring,
        settings=settings,
        now=now,
    )
    return grant


async def refresh_token_grant(
    session: AsyncSession,
    *,
    refresh_token: str,
    client_id: str,
    audience: str,
    keyring: KeyRing,
    settings: AuthSettings,
    now: int,
) -> TokenGrant:
    """Rotate: the presented token is used up and a new one in the same family replaces it,
    with the family's absolute expiry. A token presented twice revokes its whole family.

    Only the client the token was issued to may redeem it (RFC 6749 6): another client's
    attempt is refused and changes nothing, so it cannot burn or revoke someone's grant."""
    try:
        claims = await decode_refresh_token(
            refresh_token, keyring=keyring, issuer=settings.issuer, leeway_s=settings.token_leeway_s
        )
    except InvalidRefreshTokenError as exc:
        log.info("refresh token rejected", extra={"reason": str(exc)})
        raise OAuthError("invalid_grant", _BAD_REFRESH) from None
    claimed = await repository.claim(session, claims.jti, client_id=client_id, now=_ts(now))
    if claimed is None:
        stored = await repository.get(session, claims.jti)
        if stored is not None and stored.client_id != client_id:
            security_log.warning(
                "refresh token presented by another client: refused",
                extra={"event": "refresh_token_wrong_client", "jti": stored.jti},
            )
        elif stored is not None and stored.status == RefreshStatus.ROTATED:
            revoked = await repository.revoke_family(session, stored.family_id, now=_ts(now))
            security_log.warning(
                "refresh token reuse: family revoked",
                extra={
                    "event": "refresh_token_reuse",
                    "user_id": str(stored.user_id),
                    "family_id": str(stored.family_id),
                    "jti": stored.jti,
                    "tokens_revoked": revoked,
                },
            )
        raise OAuthError("invalid_grant", _BAD_REFRESH)
    if str(claimed.user_id) != claims.subject or str(claimed.family_id) != claims.family_id:
        # Signed by us but not matching its row: treat as compromise of the family.
        await repository.revoke_family(session, claimed.family_id, now=_ts(now))
        security_log.warning(
            "refresh token does not match its record: family revoked",
            extra={"family_id": str(claimed.family_id), "jti": claimed.jti},
        )
        raise OAuthError("invalid_grant", _BAD_REFRESH)
    user = await users_repository.get(session, claimed.user_id)
    if user is None or user.disabled:
        await repository.revoke_family(session, claimed.family_id, now=_ts(now))
        raise OAuthError("invalid_grant", _BAD_REFRESH)
    grant, successor = await _issue_for_user(
        session,
        user=user,
        client_id=client_id,
        audience=audience,
        family_id=claimed.family_id,
        family_expires_at=int(claimed.expires_at.timestamp()),
        keyring=keyring,
        settings=settings,
        now=now,
    )
    await repository.set_replaced_by(session, claimed.jti, successor)
    return grant


async def revoke(
    session: AsyncSession,
    *,
    token: str,
    client_id: str,
    keyring: KeyRing,
    settings: AuthSettings,
    now: int,
) -> None:
    """RFC 7009: revoking a refresh token ends its whole grant (family). Anything else (an
    access token, an unknown or invalid token) is answered the same way and changes nothing:
    access tokens are short-lived and not tracked. A refresh token issued to another client
    is refused (RFC 7009 2.1): no client can end another client's grants."""
    try:
        claims = await decode_refresh_token(
            token, keyring=keyring, issuer=settings.issuer, leeway_s=settings.token_leeway_s
        )
    except InvalidRefreshTokenError:
        return
    stored = await repository.get(session, claims.jti)
    if stored is None or str(stored.family_id) != claims.family_id:
        return
    if stored.client_id != client_id:
        raise OAuthError("unauthorized_client", "the token was issued to another client")
    count = await repository.revoke_family(session, stored.family_id, now=_ts(now))
    log.info(
        "refresh token family revoked on request",
        extra={"family_id": str(stored.family_id), "tokens_revoked": count},
    )
