"""User specifications: each evaluates a User in memory and compiles to the same SQL rule.

The tenant rule narrows every query of UserRepository; the others are the admin list's filters
(`GET /api/v1/users?role=&disabled=`).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, String, any_, literal
from sqlmodel import col

from auth_service.users.models import User
from servicekit.data.specification import Specification


class UserTenantSpec(Specification[User]):
    """Users of one tenant (every tenant-scoped user query is narrowed by this)."""

    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id

    def is_satisfied_by(self, candidate: User) -> bool:
        return candidate.tenant_id == self.tenant_id

    def to_sql(self) -> ColumnElement[bool]:
        return col(User.tenant_id) == self.tenant_id


class UserRoleSpec(Specification[User]):
    """Users holding one role (exact: an admin is not listed under `viewer`)."""

    def __init__(self, role: str) -> None:
        self.role = role

    def is_satisfied_by(self, candidate: User) -> bool:
        return self.role in candidate.roles

    def to_sql(self) -> ColumnElement[bool]:
        # `role = ANY(roles)`: membership, as `in` is in Python (roles is never NULL).
        return literal(self.role, String()) == any_(col(User.roles))


class UserDisabledSpec(Specification[User]):
    """Users an admin disabled (they cannot log in; their refresh tokens were revoked)."""

    def is_satisfied_by(self, candidate: User) -> bool:
        return candidate.disabled

    def to_sql(self) -> ColumnElement[bool]:
        return col(User.disabled).is_(True)
