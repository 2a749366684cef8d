"""The service_clients table: machines that use the client_credentials grant."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ARRAY, CheckConstraint, Column, DateTime, LargeBinary, String, text
from sqlmodel import Field

from auth_service.db import AuthTable
from auth_service.users.models import ROLE_CHECK


class ServiceClient(AuthTable, table=True):
    __tablename__ = "service_clients"
    __table_args__ = (CheckConstraint(ROLE_CHECK, name="roles"),)

    client_id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    # SHA-256 of the 256-bit secret: a high-entropy secret needs no slow hash.
    secret_digest: bytes = Field(sa_type=LargeBinary)
    roles: list[str] = Field(sa_column=Column(ARRAY(String(16)), nullable=False))
    tenant_id: str = Field(max_length=64, index=True)
    disabled: bool = False
    # A public client (RFC 6749 2.1) has no secret: it never gets client_credentials tokens.
    public: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    updated_at: datetime = Field(sa_type=DateTime(timezone=True))
