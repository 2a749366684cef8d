"""Service-client DTOs. The secret appears exactly once: in the answer that created it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from auth_service._paging import PageQuery
from auth_service.users.schemas import Role, Roles
from servicekit.core.patterns import TRIMMED

# Not stripped but refused with spaces around (engines strip differently), and no NUL: the
# pattern says so in the published schema too (servicekit.core.patterns).
ClientName = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=TRIMMED)]


class ClientCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ClientName
    roles: Roles


class ClientUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ClientName | None = None
    roles: Roles | None = None
    disabled: bool | None = None


class ClientRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    client_id: str
    name: str
    roles: list[Role]
    tenant_id: str
    disabled: bool
    created_at: datetime
    updated_at: datetime


class ClientWithSecret(ClientRead):
    """Returned on creation and on secret rotation only; the server keeps just a digest."""

    client_secret: str


class ClientListQuery(PageQuery):
    """GET /api/v1/clients: filters, then the page (unknown parameters are a 422)."""

    role: Role | None = Field(default=None, description="Only clients holding this role")
    disabled: bool | None = Field(default=None, description="Only disabled (or enabled) clients")


class ClientPage(BaseModel):
    """One page of clients, oldest first;
    `next` (the next page's relative URL) is null on the last page."""

    items: list[ClientRead]
    next: str | None


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    """What the token endpoint knows of a client: its row minus name and timestamps (the secret
    only as its digest); small and immutable, so clients._cache may keep it."""

    client_id: str
    secret_digest: bytes
    roles: tuple[str, ...]
    tenant_id: str
    disabled: bool
    public: bool = False
