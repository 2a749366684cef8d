"""User DTOs. Passwords come in as SecretStr and never go out."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, StringConstraints

from auth_service._paging import PageQuery
from servicekit.core.patterns import SPACE

Role = Literal["viewer", "editor", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "editor", "admin")

# Whitespace spelled out (servicekit.core.patterns): `\s` differs between the regex engines that
# read this pattern, in the published schema and in validation.
# No NUL either: PostgreSQL text cannot hold one.
_EMAIL_CHAR = f"[^@\\x00{SPACE}]"
EMAIL_PATTERN = f"^{_EMAIL_CHAR}{{1,64}}@{_EMAIL_CHAR}+\\.{_EMAIL_CHAR}+$"
TENANT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


def canonical_roles(roles: list[Role]) -> list[Role]:
    """Each role once, in a fixed order, so equal role sets compare and store equal."""
    return [role for role in ROLES if role in roles]


# Not stripped: what each engine strips differs too; an address with spaces around is refused.
Email = Annotated[str, StringConstraints(to_lower=True, max_length=320, pattern=EMAIL_PATTERN)]
TenantId = Annotated[str, StringConstraints(pattern=TENANT_PATTERN)]
Roles = Annotated[list[Role], Field(min_length=1, max_length=3), AfterValidator(canonical_roles)]
Password = Annotated[SecretStr, Field(min_length=1, max_length=1024)]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    password: Password
    roles: Roles


class UserUpdate(BaseModel):
    """Only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    roles: Roles | None = None
    disabled: bool | None = None
    password: Password | None = None


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    roles: list[Role]
    tenant_id: str
    disabled: bool
    locked_until: datetime | None
    created_at: datetime
    updated_at: datetime


class UserListQuery(PageQuery):
    """GET /api/v1/users: filters, then the page (unknown parameters are a 422)."""

    role: Role | None = Field(default=None, description="Only users holding this role")
    disabled: bool | None = Field(default=None, description="Only disabled (or enabled) users")


class UserPage(BaseModel):
    """One page of users by email;
    `next` (the next page's relative URL) is null on the last page."""

    items: list[UserRead]
    next: str | None
