"""Where-clauses that narrow client queries to what a caller may see."""

from __future__ import annotations

from sqlalchemy import ColumnElement

from auth_service.clients.models import ServiceClient

_C = ServiceClient.__table__.c  # type: ignore[attr-defined]


def in_tenant(tenant_id: str) -> ColumnElement[bool]:
    return _C.tenant_id == tenant_id  # type: ignore[no-any-return]
