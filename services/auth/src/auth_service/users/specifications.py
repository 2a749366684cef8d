"""Where-clauses that narrow user queries to what a caller may see."""

from __future__ import annotations

from sqlalchemy import ColumnElement

from auth_service.users.models import User

_U = User.__table__.c  # type: ignore[attr-defined]


def in_tenant(tenant_id: str) -> ColumnElement[bool]:
    return _U.tenant_id == tenant_id  # type: ignore[no-any-return]
