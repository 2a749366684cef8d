"""Service-client specifications (auth_service._account_specs bound to the clients table).

The tenant rule narrows every query of ClientRepository; the others are the admin list's
filters (`GET /api/v1/clients?role=&disabled=`).
"""

from __future__ import annotations

from auth_service._account_specs import DisabledSpec, RoleSpec, TenantSpec
from auth_service.clients.models import ServiceClient


class ClientTenantSpec(TenantSpec[ServiceClient]):
    """Clients of one tenant (every tenant-scoped client query is narrowed by this)."""

    model = ServiceClient


class ClientRoleSpec(RoleSpec[ServiceClient]):
    """Clients holding one role."""

    model = ServiceClient


class ClientDisabledSpec(DisabledSpec[ServiceClient]):
    """Clients an admin disabled (they get no tokens)."""

    model = ServiceClient
