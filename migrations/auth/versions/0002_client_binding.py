"""bind refresh tokens to their client; register the public client of the password grant

RFC 6749 s6: a refresh token is redeemed only by the client it was issued to, so each row
records its client. RFC 9068 s2.2: every access token names a client, so users logging in
without client authentication get a registered public client (no secret: its digest is of
random bytes nobody keeps, and `public` keeps it out of client_credentials). Existing refresh
tokens came from unauthenticated password grants, so they belong to that public client.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

import hashlib
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Kept equal to auth_service.clients.service.PUBLIC_CLIENT_ID (a test checks it).
PUBLIC_CLIENT_ID = "public-login"
PUBLIC_CLIENT_TENANT = "auth-system"


def upgrade() -> None:
    op.add_column(
        "service_clients",
        sa.Column("public", sa.Boolean(), nullable=False, server_default=sa.text("false")),
    )
    now = datetime.now(UTC)
    op.execute(
        sa.text(
            "INSERT INTO service_clients (client_id, name, secret_digest, roles, tenant_id,"
            " disabled, created_at, updated_at, public) VALUES (:id, :name, :digest,"
            " ARRAY['viewer']::varchar[], :tenant, false, :now, :now, true)"
            " ON CONFLICT (client_id) DO NOTHING"
        ).bindparams(
            id=PUBLIC_CLIENT_ID,
            name="password grant without client authentication",
            digest=hashlib.sha256(secrets.token_bytes(32)).digest(),
            tenant=PUBLIC_CLIENT_TENANT,
            now=now,
        )
    )
    op.add_column("refresh_tokens", sa.Column("client_id", sa.String(length=64), nullable=True))
    op.execute(sa.text("UPDATE refresh_tokens SET client_id = :id").bindparams(id=PUBLIC_CLIENT_ID))
    op.alter_column("refresh_tokens", "client_id", nullable=False)
    op.create_foreign_key(
        op.f("fk_refresh_tokens_client_id_service_clients"),
        "refresh_tokens",
        "service_clients",
        ["client_id"],
        ["client_id"],
        ondelete="CASCADE",
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("fk_refresh_tokens_client_id_service_clients"), "refresh_tokens", type_="foreignkey"
    )
    op.drop_column("refresh_tokens", "client_id")
    op.execute(
        sa.text("DELETE FROM service_clients WHERE client_id = :id").bindparams(id=PUBLIC_CLIENT_ID)
    )
    op.drop_column("service_clients", "public")
