"""Where-clauses that narrow client queries to what a caller may see."""

from __future__ import annotations

from sqlalchemy import ColumnElement

from auth_service.clients.models import ServiceClient


def in_tenant(tenant_id: str) -> ColumnElement[bool]:
    return ServiceClient.tenant_id == tenant_id  # type: ignore[return-value]
