"""User specifications (auth_service._account_specs bound to the users table).

The tenant rule narrows every query of UserRepository; the others are the admin list's filters
(`GET /api/v1/users?role=&disabled=`).
"""

from __future__ import annotations

from auth_service._account_specs import DisabledSpec, RoleSpec, TenantSpec
from auth_service.users.models import User


class UserTenantSpec(TenantSpec[User]):
    """Users of one tenant (every tenant-scoped user query is narrowed by this)."""

    model = User


class UserRoleSpec(RoleSpec[User]):
    """Users holding one role."""

    model = User


class UserDisabledSpec(DisabledSpec[User]):
    """Users an admin disabled (they cannot log in; their refresh tokens were revoked)."""

    model = User
