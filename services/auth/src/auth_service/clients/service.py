"""Service-client use cases: create with a one-time secret, authenticate, manage."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.clients import repository
from auth_service.clients._cache import CredentialsCache
from auth_service.clients.models import ServiceClient
from auth_service.clients.repository import ClientCredentials
from auth_service.clients.schemas import ClientCreate, ClientUpdate
from auth_service.errors import NotFoundError

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


async def _lookup(
    pool: Any, client_id: str, cache: CredentialsCache | None
) -> ClientCredentials | None:
    # An id no client can have is not looked up (a NUL would not even reach PostgreSQL's text).
    if len(client_id) > 64 or "\x00" in client_id:
        return None
    found = cache.get(client_id) if cache is not None else None
    if found is None:
        found = await repository.get_credentials(pool, client_id)
        if found is not None and cache is not None:
            cache.put(found)
    return found


async def authenticate(
    pool: Any,
    *,
    client_id: str,
    client_secret: str,
    cache: CredentialsCache | None = None,
) -> ClientCredentials | None:
    """The client if the secret matches an enabled confidential client; one indexed query, one
    SHA-256 and a constant-time comparison (a high-entropy secret needs no slow hash). A public
    client has no secret to match, whatever its stored digest."""
    found = await _lookup(pool, client_id, cache)
    # The digest comparison runs for unknown ids too, so the answer takes as long either way.
    expected = found.secret_digest if found is not None else _NO_CLIENT_DIGEST
    matches = hmac.compare_digest(digest(client_secret), expected)
    if found is None or not matches or found.disabled or found.public:
        return None
    return found


async def identify_public(
    pool: Any, client_id: str, cache: CredentialsCache | None = None
) -> ClientCredentials | None:
    """The enabled public client with this id (it identifies itself, RFC 6749 2.1), or None."""
    found = await _lookup(pool, client_id, cache)
    if found is None or not found.public or found.disabled:
        return None
    return found


async def create_client(
    session: AsyncSession, *, data: ClientCreate, tenant_id: str, now: datetime
) -> tuple[ServiceClient, str]:
    secret, secret_digest = new_secret()
    client = ServiceClient(
        client_id=new_client_id(),
        name=data.name,
        secret_digest=secret_digest,
        roles=list(data.roles),
        tenant_id=tenant_id,
        disabled=False,
        created_at=now,
        updated_at=now,
    )
    await repository.add(session, client)
    log.info(
        "service client created", extra={"client_id": client.client_id, "tenant_id": tenant_id}
    )
    return client, secret


async def get_client(session: AsyncSession, *, client_id: str, tenant_id: str) -> ServiceClient:
    client = await repository.get_in_tenant(session, client_id, tenant_id)
    if client is None:
        raise NotFoundError("no such client")
    return client


async def list_clients(
    session: AsyncSession, *, tenant_id: str, limit: int, offset: int
) -> tuple[Sequence[ServiceClient], int]:
    return await repository.list_in_tenant(session, tenant_id, limit=limit, offset=offset)


async def update_client(
    session: AsyncSession, *, client_id: str, tenant_id: str, data: ClientUpdate, now: datetime
) -> ServiceClient:
    client = await get_client(session, client_id=client_id, tenant_id=tenant_id)
    if data.name is not None:
        client.name = data.name
    if data.roles is not None:
        client.roles = list(data.roles)
    if data.disabled is not None:
        client.disabled = data.disabled
    client.updated_at = now
    await repository.flush(session)
    return client


async def rotate_secret(
    session: AsyncSession, *, client_id: str, tenant_id: str, now: datetime
) -> tuple[ServiceClient, str]:
    """A new secret replaces the old one at once (tokens already issued stay valid)."""
    client = await get_client(session, client_id=client_id, tenant_id=tenant_id)
    secret, client.secret_digest = new_secret()
    client.updated_at = now
    await repository.flush(session)
    log.info("service client secret rotated", extra={"client_id": client_id})
    return client, secret
