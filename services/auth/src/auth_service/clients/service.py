"""Service-client use cases: an admin's (ClientService, one tenant: create with a one-time
secret, manage) and the token endpoint's (ClientCredentialsService: authenticate)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import datetime

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service._paging import list_page
from auth_service.clients._cache import CredentialsCache
from auth_service.clients.models import ServiceClient
from auth_service.clients.repository import ClientRepository, CredentialsRepository
from auth_service.clients.schemas import (
    ClientCreate,
    ClientCredentials,
    ClientListQuery,
    ClientUpdate,
)
from auth_service.clients.specifications import ClientDisabledSpec, ClientRoleSpec
from auth_service.errors import NotFoundError
from servicekit.data.cursors import CursorSigner
from servicekit.data.repository import Page, SortKey
from servicekit.data.specification import Specification, and_spec

log = logging.getLogger("auth_service.clients")

SECRET_BYTES = 32  # 256 bits
# The registered public client (migration 0002) of password grants that authenticate no
# client: every access token names a client (RFC 9068 2.2) and every refresh token is bound
# to one (RFC 6749 6).
PUBLIC_CLIENT_ID = "public-login"
# Compared against when the client id is unknown, so both paths do the same work.
_NO_CLIENT_DIGEST = hashlib.sha256(secrets.token_bytes(SECRET_BYTES)).digest()


def new_client_id() -> str:
    return "svc_" + secrets.token_hex(12)


def new_secret() -> tuple[str, bytes]:
    """A fresh secret (shown once) and the digest that is stored."""
    secret = secrets.token_urlsafe(SECRET_BYTES)
    return secret, digest(secret)


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


# Oldest first: the order the list always had (ties broken by client id).
CLIENT_SORT = SortKey("created_at")


class ClientCredentialsService:
    """Client authentication for the token endpoint: one cached row or one prepared statement,
    one SHA-256 and a constant-time comparison (a high-entropy secret needs no slow hash)."""

    def __init__(self, pool: asyncpg.Pool, *, cache: CredentialsCache | None = None) -> None:
        self.credentials = CredentialsRepository(pool)
        self.cache = cache

    async def _lookup(self, client_id: str) -> ClientCredentials | None:
        # An id no client can have is not looked up (a NUL would not even reach PostgreSQL).
        if len(client_id) > 64 or "\x00" in client_id:
            return None
        found = self.cache.get(client_id) if self.cache is not None else None
        if found is None:
            found = await self.credentials.get(client_id)
            if found is not None and self.cache is not None:
                self.cache.put(found)
        return found

    async def authenticate(self, client_id: str, client_secret: str) -> ClientCredentials | None:
        """The client if the secret matches an enabled confidential client. A public client has
        no secret to match, whatever its stored digest."""
        found = await self._lookup(client_id)
        # The digest comparison runs for unknown ids too, so the answer takes as long either way.
        expected = found.secret_digest if found is not None else _NO_CLIENT_DIGEST
        matches = hmac.compare_digest(digest(client_secret), expected)
        if found is None or not matches or found.disabled or found.public:
            return None
        return found

    async def identify_public(self, client_id: str) -> ClientCredentials | None:
        """The enabled public client with this id (it identifies itself, RFC 6749 2.1), or None."""
        found = await self._lookup(client_id)
        if found is None or not found.public or found.disabled:
            return None
        return found


def list_spec(query: ClientListQuery) -> Specification[ServiceClient]:
    """The filters of GET /api/v1/clients as one specification (no filter selects every one)."""
    parts: list[Specification[ServiceClient]] = []
    if query.role is not None:
        parts.append(ClientRoleSpec(query.role))
    if query.disabled is not None:
        parts.append(ClientDisabledSpec() if query.disabled else ~ClientDisabledSpec())
    return and_spec(*parts)


class ClientService:
    """An admin's use cases, inside one tenant (the admin's, from the token)."""

    def __init__(
        self, session: AsyncSession, *, tenant_id: str, cache: CredentialsCache | None = None
    ) -> None:
        self.tenant_id = tenant_id
        self.clients = ClientRepository(session, tenant_id=tenant_id)
        self.cache = cache

    async def create(self, data: ClientCreate, *, now: datetime) -> tuple[ServiceClient, str]:
        secret, secret_digest = new_secret()
        client = ServiceClient(
            client_id=new_client_id(),
            name=data.name,
            secret_digest=secret_digest,
            roles=list(data.roles),
            tenant_id=self.tenant_id,
            disabled=False,
            created_at=now,
            updated_at=now,
        )
        await self.clients.add(client)
        log.info(
            "service client created",
            extra={"client_id": client.client_id, "tenant_id": self.tenant_id},
        )
        return client, secret

    async def get(self, client_id: str) -> ServiceClient:
        client = await self.clients.get(client_id)
        if client is None:
            raise NotFoundError("no such client")
        return client

    async def find_by_name(self, name: str) -> str | None:
        """The client_id of this tenant's oldest client named `name`, if any."""
        return await self.clients.find_by_name(name)

    async def list_page(
        self, query: ClientListQuery, *, signer: CursorSigner
    ) -> Page[ServiceClient]:
        return await list_page(
            self.clients,
            list_spec(query),
            sort=CLIENT_SORT,
            query=query,
            signer=signer,
        )

    def _forget(self, client_id: str) -> None:
        """This replica stops using its cached row at once (others within their cache TTL)."""
        if self.cache is not None:
            self.cache.invalidate(client_id)

    async def update(self, client_id: str, data: ClientUpdate, *, now: datetime) -> ServiceClient:
        client = await self.get(client_id)
        if data.name is not None:
            client.name = data.name
        if data.roles is not None:
            client.roles = list(data.roles)
        if data.disabled is not None:
            client.disabled = data.disabled
        client.updated_at = now
        await self.clients.flush()
        self._forget(client_id)
        return client

    async def rotate_secret(self, client_id: str, *, now: datetime) -> tuple[ServiceClient, str]:
        """A new secret replaces the old one at once (tokens already issued stay valid)."""
        client = await self.get(client_id)
        secret, client.secret_digest = new_secret()
        client.updated_at = now
        await self.clients.flush()
        self._forget(client_id)
        log.info("service client secret rotated", extra={"client_id": client_id})
        return client, secret
