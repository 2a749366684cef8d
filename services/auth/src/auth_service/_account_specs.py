"""The specifications users and service clients share: both are tenant-scoped accounts that
hold roles and that an admin may disable. Each evaluates an account in memory and compiles to
the same SQL rule; `users.specifications` and `clients.specifications` bind them to their table.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, TypeVar

from sqlalchemy import ColumnElement, String, any_, literal
from sqlmodel import col

from servicekit.data.specification import Specification


class Account(Protocol):
    @property
    def tenant_id(self) -> str: ...

    @property
    def roles(self) -> list[str]: ...

    @property
    def disabled(self) -> bool: ...


AccountT = TypeVar("AccountT", bound=Account)


class _AccountSpec(Specification[AccountT]):
    model: ClassVar[type[Any]]  # the mapped class whose columns the SQL names


class TenantSpec(_AccountSpec[AccountT]):
    """Accounts of one tenant (every tenant-scoped query of the table is narrowed by this)."""

    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id

    def is_satisfied_by(self, candidate: AccountT) -> bool:
        return candidate.tenant_id == self.tenant_id

    def to_sql(self) -> ColumnElement[bool]:
        return col(self.model.tenant_id) == self.tenant_id


class RoleSpec(_AccountSpec[AccountT]):
    """Accounts holding one role (exact: an admin is not listed under `viewer`)."""

    def __init__(self, role: str) -> None:
        self.role = role

    def is_satisfied_by(self, candidate: AccountT) -> bool:
        return self.role in candidate.roles

    def to_sql(self) -> ColumnElement[bool]:
        # `role = ANY(roles)`: membership, as `in` is in Python (roles is never NULL).
        return literal(self.role, String()) == any_(col(self.model.roles))


class DisabledSpec(_AccountSpec[AccountT]):
    """Accounts an admin disabled."""

    def is_satisfied_by(self, candidate: AccountT) -> bool:
        return candidate.disabled

    def to_sql(self) -> ColumnElement[bool]:
        return col(self.model.disabled).is_(True)
