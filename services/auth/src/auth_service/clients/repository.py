"""Every query on service_clients.

`ClientRepository` holds what an admin does within one tenant (narrowed by `ClientTenantSpec` in
one place, the servicekit base). `CredentialsRepository` is the token endpoint's lookup by
client id, across tenants (a client authenticates before anyone knows its tenant).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import asyncpg
from sqlmodel import col

from auth_service.clients.models import ServiceClient
from auth_service.clients.schemas import ClientCredentials
from auth_service.clients.specifications import ClientTenantSpec
from servicekit.data.repository import TenantRepository
from servicekit.data.specification import Specification

# The token endpoint's only query: a primary-key lookup of just what issuance needs. It runs
# on a plain asyncpg pool as a cached prepared statement: one round trip, no transaction, no
# ORM, so that issuing a token costs little more than its RSA signature.
_CREDENTIALS_SQL = (
    "SELECT secret_digest, roles, tenant_id, disabled, public FROM service_clients"
    " WHERE client_id = $1"
)


class CredentialsRepository:
    """Client rows by id on the token endpoint's asyncpg pool (lifespan.credentials_pool)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def get(self, client_id: str) -> ClientCredentials | None:
        row = await self.pool.fetchrow(_CREDENTIALS_SQL, client_id)
        if row is None:
            return None
        return ClientCredentials(client_id, bytes(row[0]), tuple(row[1]), row[2], row[3], row[4])


class ClientRepository(TenantRepository[ServiceClient]):
    model = ServiceClient
    sortable: ClassVar[Mapping[str, str]] = {"created_at": "created_at", "name": "name"}
    id_attr = "client_id"
    # Clients are neither versioned nor soft-deleted.
    version_attr = None
    deleted_attr = None

    def tenant_spec(self) -> Specification[ServiceClient]:
        return ClientTenantSpec(self.tenant_id)

    async def flush(self) -> None:
        await self.session.flush()

    async def find_by_name(self, name: str) -> str | None:
        """The client_id of this tenant's oldest client with this name, if any."""
        stmt = (
            self.select()
            .with_only_columns(col(ServiceClient.client_id))
            .where(col(ServiceClient.name) == name)
            .order_by(col(ServiceClient.created_at))
            .limit(1)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()
