"""Laws of the role hierarchy."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orders_service.errors import PermissionDeniedError
from orders_service.permissions import (
    ROLE_ORDER,
    ROLE_PERMISSIONS,
    Permission,
    Role,
    check,
    permissions_for,
)

role_names = st.lists(
    st.sampled_from([*(r.value for r in Role), "auditor", "ADMIN", ""]), max_size=4
)


@given(lower=st.sampled_from(ROLE_ORDER), higher=st.sampled_from(ROLE_ORDER))
def test_every_permission_of_a_lower_role_is_held_by_each_higher_role(
    lower: Role, higher: Role
) -> None:
    """For any roles lower <= higher on the ladder: permissions(lower) is within
    permissions(higher)."""
    if ROLE_ORDER.index(lower) <= ROLE_ORDER.index(higher):
        assert ROLE_PERMISSIONS[lower] <= ROLE_PERMISSIONS[higher]


@given(roles=role_names, extra=role_names)
def test_holding_more_roles_never_takes_a_permission_away(
    roles: list[str], extra: list[str]
) -> None:
    """For any role lists R and E: permissions(R) is within permissions(R + E)."""
    assert permissions_for(roles) <= permissions_for(roles + extra)


@given(roles=role_names, permission=st.sampled_from(list(Permission)))
def test_check_passes_exactly_when_a_role_grants_the_permission(
    roles: list[str], permission: Permission
) -> None:
    """For any roles and permission: check() passes iff some role grants it, and the 403 names
    the missing permission."""
    granted = any(
        permission in ROLE_PERMISSIONS.get(Role(r), frozenset())
        for r in roles
        if r in {role.value for role in Role}
    )
    if granted:
        check(roles, permission)
    else:
        with pytest.raises(PermissionDeniedError) as denied:
            check(roles, permission)
        assert denied.value.status == 403
        assert denied.value.extra["missing_permission"] == permission.value


def test_the_grants_are_the_documented_matrix() -> None:
    """Viewer reads; editor creates, updates, confirms and fulfils; admin deletes and cancels."""
    assert ROLE_PERMISSIONS[Role.VIEWER] == {Permission.ITEMS_READ, Permission.PEDIDOS_READ}
    assert ROLE_PERMISSIONS[Role.EDITOR] - ROLE_PERMISSIONS[Role.VIEWER] == {
        Permission.ITEMS_CREATE,
        Permission.ITEMS_UPDATE,
        Permission.PEDIDOS_CREATE,
        Permission.PEDIDOS_CONFIRM,
        Permission.PEDIDOS_FULFIL,
    }
    assert ROLE_PERMISSIONS[Role.ADMIN] == set(Permission)
    assert permissions_for(["superuser", "Admin"]) == frozenset()
