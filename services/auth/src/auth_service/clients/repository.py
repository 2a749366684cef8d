"""Every query on service_clients."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from auth_service.clients.models import ServiceClient
from auth_service.clients.specifications import in_tenant

_C = ServiceClient.__table__.c  # type: ignore[attr-defined]

# The token endpoint's only query: a primary-key lookup of just what issuance needs. It runs
# on a plain asyncpg pool as a cached prepared statement: one round trip, no transaction, no
# ORM, so that issuing a token costs little more than its RSA signature.
_CREDENTIALS_SQL = (
    "SELECT secret_digest, roles, tenant_id, disabled, public FROM service_clients"
    " WHERE client_id = $1"
)


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    client_id: str
    secret_digest: bytes
    roles: tuple[str, ...]
    tenant_id: str
    disabled: bool
    public: bool = False


async def get_credentials(pool: Any, client_id: str) -> ClientCredentials | None:
    """`pool` is an asyncpg pool (see lifespan.credentials_pool_hook)."""
    row = await pool.fetchrow(_CREDENTIALS_SQL, client_id)
    if row is None:
        return None
    return ClientCredentials(client_id, bytes(row[0]), tuple(row[1]), row[2], row[3], row[4])


async def add(session: AsyncSession, client: ServiceClient) -> None:
    session.add(client)
    await session.flush()


async def get_in_tenant(
    session: AsyncSession, client_id: str, tenant_id: str
) -> ServiceClient | None:
    result = await session.execute(
        select(ServiceClient).where(_C.client_id == client_id, in_tenant(tenant_id))
    )
    return result.scalars().one_or_none()


async def list_in_tenant(
    session: AsyncSession, tenant_id: str, *, limit: int, offset: int
) -> tuple[Sequence[ServiceClient], int]:
    total = (
        await session.execute(
            select(func.count()).select_from(ServiceClient).where(in_tenant(tenant_id))
        )
    ).scalar_one()
    rows = await session.execute(
        select(ServiceClient)
        .where(in_tenant(tenant_id))
        .order_by(_C.created_at, _C.client_id)
        .limit(limit)
        .offset(offset)
    )
    return rows.scalars().all(), int(total)


async def flush(session: AsyncSession) -> None:
    await session.flush()


async def find_by_name(session: AsyncSession, name: str, tenant_id: str) -> str | None:
    """The client_id of the oldest client with this name in the tenant, if any."""
    result = await session.execute(
        select(_C.client_id)
        .where(_C.name == name, in_tenant(tenant_id))
        .order_by(_C.created_at)
        .limit(1)
    )
    return result.scalar_one_or_none()
