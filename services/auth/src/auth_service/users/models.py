"""The users table: humans who log in with the password grant."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ARRAY, CheckConstraint, Column, DateTime, String
from sqlmodel import Field

from auth_service.db import AuthTable

ROLE_CHECK = "roles <@ ARRAY['viewer', 'editor', 'admin']::varchar[] AND cardinality(roles) >= 1"


class User(AuthTable, table=True):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(ROLE_CHECK, name="roles"),)

    id: uuid.UUID = Field(primary_key=True)
    # Stored normalized (trimmed, lower case); unique across tenants: the login name.
    email: str = Field(max_length=320, unique=True)
    password_hash: str = Field(max_length=255)
    roles: list[str] = Field(sa_column=Column(ARRAY(String(16)), nullable=False))
    tenant_id: str = Field(max_length=64, index=True)
    disabled: bool = False
    # Consecutive failed logins since the last success or lockout.
    failed_logins: int = 0
    locked_until: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    updated_at: datetime = Field(sa_type=DateTime(timezone=True))
