"""The refresh_tokens table: every refresh token by jti, grouped in rotation families."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, DateTime
from sqlmodel import Field

from auth_service.db import AuthTable


class RefreshStatus(StrEnum):
    ACTIVE = "active"  # the newest token of its family: may be used once
    ROTATED = "rotated"  # used; presenting it again is reuse (RFC 9700 4.14.2)
    REVOKED = "revoked"  # its family was revoked (reuse, logout, disabled user)


class RefreshToken(AuthTable, table=True):
    __tablename__ = "refresh_tokens"
    __table_args__ = (CheckConstraint("status IN ('active', 'rotated', 'revoked')", name="status"),)

    jti: str = Field(primary_key=True, max_length=64)
    family_id: uuid.UUID = Field(index=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    # The client it was issued to: only that client may redeem or revoke it (RFC 6749 s6).
    client_id: str = Field(
        max_length=64, foreign_key="service_clients.client_id", ondelete="CASCADE"
    )
    status: str = Field(max_length=16)
    issued_at: datetime = Field(sa_type=DateTime(timezone=True))
    # Absolute end of the family: rotation hands it on unchanged.
    expires_at: datetime = Field(sa_type=DateTime(timezone=True))
    replaced_by: str | None = Field(default=None, max_length=64)
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
