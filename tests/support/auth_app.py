"""auth in-process for tests: the real app and lifespan on a real database, spoken to over
ASGI, plus helpers that create users and clients through the service layer."""

from __future__ import annotations

import asyncio
import base64
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import text

from auth_service.clients.schemas import ClientCreate
from auth_service.clients.service import ClientService
from auth_service.keys.keyring import KeyRing
from auth_service.lifespan import AuthState
from auth_service.main import create_app
from auth_service.settings import AuthSettings
from auth_service.tokens.service import RefreshTokenService
from auth_service.users.schemas import Role, UserCreate
from auth_service.users.service import UserService
from servicekit.core.state import ServiceResources, service_state
from servicekit.data.migrations import upgrade_head
from tests.support.backends import create_database, drop_database
from tests.support.ids import new_tenant

# One key-encryption key for the whole run: every test app can open every test key.
KEK_B64 = base64.b64encode(secrets.token_bytes(32)).decode()
ISSUER = "http://auth.test"
AUDIENCE = "orders"
PASSWORD = "correct horse battery staple"


# The tests send many token requests from one address on purpose; the limits themselves are
# tested with small budgets (tests/integration/auth/test_token_rate_limit.py).
UNLIMITED_TOKEN_REQUESTS: dict[str, int] = {
    "token_requests_per_ip_per_minute": 1_000_000,
    "token_burst_per_ip": 1_000_000,
    "token_requests_per_identity_per_minute": 1_000_000,
    "token_burst_per_identity": 1_000_000,
}


def auth_settings(database_url: str, **overrides: Any) -> AuthSettings:
    """Test settings: cheap argon2 (the production cost is a setting, not a code path), and
    token rate limits out of the way."""
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": database_url,
        "key_encryption_key": SecretStr(KEK_B64),
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "password_hash_time_cost": 1,
        "password_hash_memory_kib": 8192,
        "password_hash_parallelism": 1,
        "log_level": "WARNING",
        **UNLIMITED_TOKEN_REQUESTS,
        **overrides,
    }
    return AuthSettings(**values)


@dataclass
class User:
    id: str
    email: str
    password: str
    tenant_id: str


@dataclass
class Client:
    client_id: str
    secret: str
    tenant_id: str


@dataclass
class AuthApp:
    app: FastAPI
    client: httpx.AsyncClient
    settings: AuthSettings

    @property
    def state(self) -> AuthState:
        return service_state(self.app, AuthState)

    @property
    def resources(self) -> ServiceResources:
        return self.state.resources

    @property
    def keyring(self) -> KeyRing:
        return self.state.keyring

    async def create_user(
        self,
        *,
        roles: list[Role] | None = None,
        tenant_id: str | None = None,
        password: str = PASSWORD,
        email: str | None = None,
    ) -> User:
        tenant_id = tenant_id or new_tenant()
        email = email or f"u-{uuid.uuid4().hex[:12]}@example.com"
        async with self.resources.sessionmaker.begin() as session:
            users = UserService(
                session,
                tenant_id=tenant_id,
                passwords=self.state.passwords,
                settings=self.settings,
                sessions=RefreshTokenService(session),
            )
            user = await users.create(
                UserCreate(email=email, password=SecretStr(password), roles=roles or ["viewer"]),
                now=datetime.now(UTC),
            )
        return User(str(user.id), email, password, tenant_id)

    async def create_client(
        self, *, roles: list[Role] | None = None, tenant_id: str | None = None
    ) -> Client:
        tenant_id = tenant_id or new_tenant()
        async with self.resources.sessionmaker.begin() as session:
            client, secret = await ClientService(session, tenant_id=tenant_id).create(
                ClientCreate(name="test client", roles=roles or ["viewer"]), now=datetime.now(UTC)
            )
        return Client(client.client_id, secret, tenant_id)

    async def token(self, form: dict[str, str], **kwargs: Any) -> httpx.Response:
        return await self.client.post("/oauth/token", data=form, **kwargs)

    async def client_token(self, client: Client, *, resource: str | None = None) -> str:
        form = {
            "grant_type": "client_credentials",
            "client_id": client.client_id,
            "client_secret": client.secret,
        }
        if resource is not None:
            form["resource"] = resource
        response = await self.token(form)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    async def login(self, user: User, *, resource: str | None = None) -> dict[str, Any]:
        form = {"grant_type": "password", "username": user.email, "password": user.password}
        if resource is not None:
            form["resource"] = resource
        response = await self.token(form)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def refresh_family_statuses(self, refresh_token: str) -> dict[str, str]:
        """jti -> status of every token of `refresh_token`'s family, as the database holds them."""
        async with self.resources.engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT jti, status FROM refresh_tokens WHERE family_id = :f"),
                {"f": refresh_family(refresh_token)},
            )
            return {row.jti: row.status for row in rows}

    async def backdate_refresh_family(self, refresh_token: str, seconds: int) -> None:
        """Move the issue times of `refresh_token`'s family `seconds` into the past, as if that
        much time had passed (the reuse grace counts from a token's issue)."""
        async with self.resources.engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE refresh_tokens SET issued_at = issued_at - make_interval(secs => :s) "
                    "WHERE family_id = :f"
                ),
                {"s": seconds, "f": refresh_family(refresh_token)},
            )

    async def admin_headers(self, tenant_id: str | None = None) -> dict[str, str]:
        """A token for auth's own admin API: its audience is the issuer (RFC 8707 resource)."""
        admin = await self.create_user(roles=["admin"], tenant_id=tenant_id)
        token = (await self.login(admin, resource=ISSUER))["access_token"]
        return {"Authorization": "Bearer " + token}


def refresh_family(refresh_token: str) -> str:
    """The family id (`fid`) a refresh token carries; read, not verified."""
    return str(jwt.decode(refresh_token, options={"verify_signature": False})["fid"])


@asynccontextmanager
async def running_auth(settings: AuthSettings) -> AsyncIterator[AuthApp]:
    """The real app with its lifespan (keys ensured, ring loaded, watcher running)."""
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER) as client,
    ):
        yield AuthApp(app, client, settings)


@asynccontextmanager
async def fresh_auth_database(server_url: str) -> AsyncIterator[str]:
    """A database of its own, migrated to head: for tests that change the key set."""
    url = await create_database(server_url, "test_auth_keys")
    try:
        await asyncio.to_thread(upgrade_head, "auth", url)
        yield url
    finally:
        await drop_database(url)
