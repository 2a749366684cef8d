"""RBAC: roles come from the token; each route declares its permission (`CanReadItems`...),
which answers 403 at run time and documents the route's security in OpenAPI.

Roles are ordered viewer < editor < admin and each one holds every permission of the roles
below it, so the grants are written as what each role adds.

Fulfilment (process, ship, deliver) sits at editor: it moves a pedido forward along the path
its confirmation already committed to, like confirming does, and warehouse staff who ship need
it daily. What stays admin-only is what destroys or reverses: deleting items and cancelling
pedidos (a cancel after confirmation gives reserved stock back).

A 403 depends on the caller's roles only, never on the resource named in the URL, so it says
nothing about another tenant's data; a caller who holds the permission gets 404 for a resource
outside its tenant, exactly as for one that never existed.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated

from fastapi import Depends

from orders_service.context import Actor
from orders_service.errors import PermissionDeniedError, UnusableIdentityError
from servicekit.verify import ROLE_ORDER as RANKED_ROLE_NAMES
from servicekit.verify import Principal
from servicekit.web.security import Permission as RoutePermission
from servicekit.web.security import requires


class Role(StrEnum):
    VIEWER = "viewer"
    EDITOR = "editor"
    ADMIN = "admin"


class Permission(StrEnum):
    ITEMS_READ = "items:read"
    ITEMS_CREATE = "items:create"
    ITEMS_UPDATE = "items:update"
    ITEMS_DELETE = "items:delete"
    PEDIDOS_READ = "pedidos:read"
    PEDIDOS_CREATE = "pedidos:create"
    PEDIDOS_CONFIRM = "pedidos:confirm"
    PEDIDOS_CANCEL = "pedidos:cancel"
    PEDIDOS_FULFIL = "pedidos:fulfil"
    EVENTS_READ = "events:read"


# The ladder is servicekit's (the token verifier ranks roles the same way).
ROLE_ORDER: tuple[Role, ...] = tuple(Role(name) for name in RANKED_ROLE_NAMES)

_ADDS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.ITEMS_READ, Permission.PEDIDOS_READ}),
    Role.EDITOR: frozenset(
        {
            Permission.ITEMS_CREATE,
            Permission.ITEMS_UPDATE,
            Permission.PEDIDOS_CREATE,
            Permission.PEDIDOS_CONFIRM,
            Permission.PEDIDOS_FULFIL,
        }
    ),
    # The event feed shows every change of the tenant, with who made it: admin only.
    Role.ADMIN: frozenset(
        {Permission.ITEMS_DELETE, Permission.PEDIDOS_CANCEL, Permission.EVENTS_READ}
    ),
}


def _cumulative() -> dict[Role, frozenset[Permission]]:
    grants: dict[Role, frozenset[Permission]] = {}
    held: frozenset[Permission] = frozenset()
    for role in ROLE_ORDER:
        held = held | _ADDS[role]
        grants[role] = held
    return grants


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = _cumulative()
_ROLE_NAMES = frozenset(role.value for role in Role)


def permissions_for(roles: Iterable[str]) -> frozenset[Permission]:
    """Everything the given role names grant; names this service does not know grant nothing."""
    return _granted(roles if isinstance(roles, tuple) else tuple(roles))


@functools.lru_cache(maxsize=256)
def _granted(roles: tuple[str, ...]) -> frozenset[Permission]:
    # Tokens carry a handful of role combinations: each is worked out once per process.
    granted: frozenset[Permission] = frozenset()
    for name in roles:
        if name in _ROLE_NAMES:
            granted = granted | ROLE_PERMISSIONS[Role(name)]
    return granted


def check(roles: Iterable[str], permission: Permission) -> None:
    """Raise the 403 problem naming `permission` unless `roles` grant it."""
    if permission not in permissions_for(roles):
        raise PermissionDeniedError(permission.value)


def _denied(declared: RoutePermission) -> PermissionDeniedError:
    return PermissionDeniedError(declared.name)


def _admit(principal: Principal) -> None:
    actor_of(principal)  # refuse identities the tables cannot hold, on every route


@functools.cache
def declared(permission: Permission) -> RoutePermission:
    """`permission` as a route declaration: the lowest role granting it (so the run-time check
    and the documented role agree by construction), orders' 403, and the identity check."""
    minimum = next(role for role in ROLE_ORDER if permission in ROLE_PERMISSIONS[role])
    return RoutePermission(
        name=permission.value, minimum_role=minimum.value, denied=_denied, admit=_admit
    )


def _can(permission: Permission) -> object:
    return Depends(requires(declared(permission)))


CanReadItems = Annotated[Principal, _can(Permission.ITEMS_READ)]
CanCreateItems = Annotated[Principal, _can(Permission.ITEMS_CREATE)]
CanUpdateItems = Annotated[Principal, _can(Permission.ITEMS_UPDATE)]
CanDeleteItems = Annotated[Principal, _can(Permission.ITEMS_DELETE)]
CanReadPedidos = Annotated[Principal, _can(Permission.PEDIDOS_READ)]
CanCreatePedidos = Annotated[Principal, _can(Permission.PEDIDOS_CREATE)]
CanConfirmPedidos = Annotated[Principal, _can(Permission.PEDIDOS_CONFIRM)]
CanCancelPedidos = Annotated[Principal, _can(Permission.PEDIDOS_CANCEL)]
CanFulfilPedidos = Annotated[Principal, _can(Permission.PEDIDOS_FULFIL)]
CanReadEvents = Annotated[Principal, _can(Permission.EVENTS_READ)]


# Column widths of tenant_id and the audit fields.
MAX_TENANT_ID = 64
MAX_SUBJECT = 255


def actor_of(principal: Principal) -> Actor:
    """The tenant and subject of a verified token, if this service can store them.

    A signed token is trusted, but its claims still have to fit the tables: an oversized or
    NUL-carrying tenant or subject is refused here (403) instead of failing in the database.
    """
    tenant, subject = principal.tenant_id, principal.subject
    if not (0 < len(tenant) <= MAX_TENANT_ID and 0 < len(subject) <= MAX_SUBJECT) or (
        "\x00" in tenant + subject
    ):
        raise UnusableIdentityError
    return Actor(tenant_id=tenant, subject=subject)
