"""The signing_keys table: one row per RSA key pair, the private half wrapped (AES-256-GCM)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, DateTime, Index, LargeBinary, text
from sqlmodel import Field

from auth_service.db import AuthTable


class KeyPurpose(StrEnum):
    ACCESS = "access"  # signs access tokens; published in JWKS
    REFRESH = "refresh"  # signs refresh tokens; never published


class KeyStatus(StrEnum):
    NEXT = "next"  # published, not signing yet
    ACTIVE = "active"  # signing
    RETIRED = "retired"  # published, verifying only, until its grace period ends
    REVOKED = "revoked"  # compromised: gone from JWKS at once


class SigningKey(AuthTable, table=True):
    __tablename__ = "signing_keys"
    __table_args__ = (
        CheckConstraint("purpose IN ('access', 'refresh')", name="purpose"),
        CheckConstraint("status IN ('next', 'active', 'retired', 'revoked')", name="status"),
        # At most one signing key and one waiting key per purpose, whatever races happen.
        Index(
            "uq_signing_keys_one_active_per_purpose",
            "purpose",
            unique=True,
            postgresql_where=text("status = 'active'"),
        ),
        Index(
            "uq_signing_keys_one_next_per_purpose",
            "purpose",
            unique=True,
            postgresql_where=text("status = 'next'"),
        ),
    )

    kid: str = Field(primary_key=True, max_length=64)
    purpose: str = Field(max_length=16)
    status: str = Field(max_length=16)
    algorithm: str = Field(max_length=16)
    key_size: int
    # Public half as JWK members (base64url), so JWKS never needs the private key.
    public_n: str = Field(max_length=1024)
    public_e: str = Field(max_length=16)
    private_key_wrapped: bytes = Field(sa_type=LargeBinary)
    kek_id: str = Field(max_length=32)
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    activated_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    retired_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
