"""The grants of POST /oauth/token and the revocation of POST /oauth/revoke.

Grant failures are `OAuthError`s the endpoint turns into RFC 6749 error bodies. The endpoint
returns them as responses (it does not raise), so the writes a failure must keep (a failed
login counted, a reused refresh token's family revoked) are committed with the request.

`TokenService` runs the grants; it reaches clients and users through their services
(ClientCredentialsService, LoginService). `RefreshTokenService` is what other features may do
with refresh tokens (users end a user's sessions through it).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.clients.service import ClientCredentialsService
from auth_service.keys.keyring import KeyRing
from auth_service.settings import AuthSettings
from auth_service.tokens._signing import (
    InvalidRefreshTokenError,
    decode_refresh_token,
    new_jti,
    sign_access_token,
    sign_refresh_token,
)
from auth_service.tokens.models import RefreshStatus, RefreshToken
from auth_service.tokens.repository import ClaimedToken, RefreshTokenRepository
from auth_service.users.models import User
from auth_service.users.service import LoginService, PasswordCheck

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


class RefreshTokenService:
    """Refresh-token sessions as other features see them (users: RefreshSessions)."""

    def __init__(self, session: AsyncSession) -> None:
        self.tokens = RefreshTokenRepository(session)

    async def revoke_all_for_user(self, user_id: uuid.UUID, *, now: datetime) -> int:
        """End every refresh session of a user (new password, disabled account)."""
        return await self.tokens.revoke_all_for_user(user_id, now=now)


class TokenService:
    """The grants and the revocation, over this process's key ring and settings.

    Not bound to one session: the client_credentials grant needs none (the hot path), and the
    user grants open the request's session only after the password check (see
    tokens.endpoints._user_grant), so the methods that write name their session.
    """

    def __init__(
        self,
        *,
        keyring: KeyRing,
        settings: AuthSettings,
        clients: ClientCredentialsService,
        logins: LoginService,
    ) -> None:
        self.keyring = keyring
        self.settings = settings
        self.clients = clients
        self.logins = logins

    def audience_for(self, resource: str | None) -> str:
        """RFC 8707: the audience a `resource` asks for. Two resource servers exist: orders (the
        default audience) and auth's own admin API, named by auth's issuer."""
        if resource is None or resource == self.settings.audience:
            return self.settings.audience
        if resource.rstrip("/") == self.settings.issuer:
            return self.settings.issuer
        raise OAuthError("invalid_target", "resource names no resource server of this issuer")

    async def client_credentials(
        self, *, client_id: str, client_secret: str, audience: str, now: int
    ) -> TokenGrant:
        client = await self.clients.authenticate(client_id, client_secret)
        if client is None:
            raise invalid_client()
        settings = self.settings
        token = sign_access_token(
            self.keyring,
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
        self,
        tokens: RefreshTokenRepository,
        *,
        user: User,
        client_id: str,
        audience: str,
        family_id: uuid.UUID,
        family_expires_at: int,
        now: int,
    ) -> tuple[TokenGrant, str]:
        settings = self.settings
        access = sign_access_token(
            self.keyring,
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
            self.keyring,
            issuer=settings.issuer,
            subject=str(user.id),
            jti=jti,
            family_id=str(family_id),
            now=now,
            expires_at=family_expires_at,
        )
        await tokens.add(
            RefreshToken(
                jti=jti,
                family_id=family_id,
                user_id=user.id,
                client_id=client_id,
                status=RefreshStatus.ACTIVE.value,
                issued_at=_ts(now),
                expires_at=_ts(family_expires_at),
            )
        )
        return TokenGrant(access, settings.access_token_ttl_s, refresh), jti

    async def password(
        self,
        session: AsyncSession,
        *,
        check: PasswordCheck,
        client_id: str,
        audience: str,
        now: int,
    ) -> TokenGrant:
        """Finish a login whose password was checked (LoginService.check_password, outside any
        transaction): record the outcome and, on success, issue tokens bound to the client."""
        user = await self.logins.record_login(session, check, now=_ts(now))
        if user is None:
            raise OAuthError("invalid_grant", _BAD_CREDENTIALS)
        grant, _ = await self._issue_for_user(
            RefreshTokenRepository(session),
            user=user,
            client_id=client_id,
            audience=audience,
            family_id=uuid.uuid4(),
            family_expires_at=now + self.settings.refresh_token_ttl_s,
            now=now,
        )
        return grant

    async def refresh(
        self,
        session: AsyncSession,
        *,
        refresh_token: str,
        client_id: str,
        audience: str,
        now: int,
    ) -> TokenGrant:
        """Rotate: the presented token is used up and a new one in the same family replaces it,
        with the family's absolute expiry. A token presented twice revokes its whole family,
        unless it is a retry within `refresh_reuse_grace_s` while its successor is unused.

        Only the client the token was issued to may redeem it (RFC 6749 6): another client's
        attempt is refused and changes nothing, so it cannot burn or revoke someone's grant."""
        settings = self.settings
        try:
            claims = await decode_refresh_token(
                refresh_token,
                keyring=self.keyring,
                issuer=settings.issuer,
                leeway_s=settings.token_leeway_s,
            )
        except InvalidRefreshTokenError as exc:
            log.info("refresh token rejected", extra={"reason": str(exc)})
            raise OAuthError("invalid_grant", _BAD_REFRESH) from None
        tokens = RefreshTokenRepository(session)
        claimed = await tokens.claim(claims.jti, client_id=client_id, now=_ts(now))
        if claimed is None:
            claimed = await self._claim_again(tokens, claims.jti, client_id=client_id, now=now)
        if str(claimed.user_id) != claims.subject or str(claimed.family_id) != claims.family_id:
            # Signed by us but not matching its row: treat as compromise of the family.
            await tokens.revoke_family(claimed.family_id, now=_ts(now))
            security_log.warning(
                "refresh token does not match its record: family revoked",
                extra={"family_id": str(claimed.family_id), "jti": claimed.jti},
            )
            raise OAuthError("invalid_grant", _BAD_REFRESH)
        user = await self.logins.active_user(session, claimed.user_id)
        if user is None:
            await tokens.revoke_family(claimed.family_id, now=_ts(now))
            raise OAuthError("invalid_grant", _BAD_REFRESH)
        grant, successor = await self._issue_for_user(
            tokens,
            user=user,
            client_id=client_id,
            audience=audience,
            family_id=claimed.family_id,
            family_expires_at=int(claimed.expires_at.timestamp()),
            now=now,
        )
        await tokens.set_replaced_by(claimed.jti, successor)
        return grant

    async def _claim_again(
        self, tokens: RefreshTokenRepository, jti: str, *, client_id: str, now: int
    ) -> ClaimedToken:
        """A token that could not be claimed: another client's (refused, nothing changes), a
        retry within the reuse grace (its unused successor retired, rotated again), reuse (the
        family revoked), or one that is revoked, expired or unknown (refused)."""
        stored = await tokens.get(jti)
        if stored is not None and stored.client_id != client_id:
            security_log.warning(
                "refresh token presented by another client: refused",
                extra={"event": "refresh_token_wrong_client", "jti": stored.jti},
            )
        elif stored is not None and stored.status == RefreshStatus.ROTATED:
            grace_s = self.settings.refresh_reuse_grace_s
            if grace_s > 0 and await tokens.retire_unused_successor(
                stored, issued_since=_ts(now - grace_s), now=_ts(now)
            ):
                security_log.info(
                    "rotated refresh token presented again within the grace: rotated again",
                    extra={
                        "event": "refresh_token_retry",
                        "family_id": str(stored.family_id),
                        "jti": stored.jti,
                    },
                )
                return ClaimedToken(stored.jti, stored.family_id, stored.user_id, stored.expires_at)
            revoked = await tokens.revoke_family(stored.family_id, now=_ts(now))
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

    async def revoke(self, session: AsyncSession, *, token: str, client_id: str, now: int) -> None:
        """RFC 7009: revoking a refresh token ends its whole grant (family). Anything else (an
        access token, an unknown or invalid token) is answered the same way and changes
        nothing: access tokens are short-lived and not tracked. A refresh token issued to
        another client is refused (RFC 7009 2.1): no client can end another client's grants."""
        settings = self.settings
        try:
            claims = await decode_refresh_token(
                token,
                keyring=self.keyring,
                issuer=settings.issuer,
                leeway_s=settings.token_leeway_s,
            )
        except InvalidRefreshTokenError:
            return
        tokens = RefreshTokenRepository(session)
        stored = await tokens.get(claims.jti)
        if stored is None or str(stored.family_id) != claims.family_id:
            return
        if stored.client_id != client_id:
            raise OAuthError("unauthorized_client", "the token was issued to another client")
        count = await tokens.revoke_family(stored.family_id, now=_ts(now))
        log.info(
            "refresh token family revoked on request",
            extra={"family_id": str(stored.family_id), "tokens_revoked": count},
        )
