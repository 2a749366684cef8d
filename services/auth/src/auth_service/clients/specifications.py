"""Service-client specifications: each evaluates a client in memory and compiles to the same
SQL rule.

The tenant rule narrows every query of ClientRepository; the others are the admin list's
filters (`GET /api/v1/clients?role=&disabled=`).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, String, any_, literal
from sqlmodel import col

from auth_service.clients.models import ServiceClient
from servicekit.data.specification import Specification


class ClientTenantSpec(Specification[ServiceClient]):
    """Clients of one tenant (every tenant-scoped client query is narrowed by this)."""

    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id

    def is_satisfied_by(self, candidate: ServiceClient) -> bool:
        return candidate.tenant_id == self.tenant_id

    def to_sql(self) -> ColumnElement[bool]:
        return col(ServiceClient.tenant_id) == self.tenant_id


class ClientRoleSpec(Specification[ServiceClient]):
    """Clients holding one role (exact: an admin client is not listed under `viewer`)."""

    def __init__(self, role: str) -> None:
        self.role = role

    def is_satisfied_by(self, candidate: ServiceClient) -> bool:
        return self.role in candidate.roles

    def to_sql(self) -> ColumnElement[bool]:
        # `role = ANY(roles)`: membership, as `in` is in Python (roles is never NULL).
        return literal(self.role, String()) == any_(col(ServiceClient.roles))


class ClientDisabledSpec(Specification[ServiceClient]):
    """Clients an admin disabled (they get no tokens)."""

    def is_satisfied_by(self, candidate: ServiceClient) -> bool:
        return candidate.disabled

    def to_sql(self) -> ColumnElement[bool]:
        return col(ServiceClient.disabled).is_(True)
