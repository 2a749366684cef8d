"""outbox feed order: writing transaction id and insertion sequence of each event

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

GET /api/v1/events pages by (txid, seq) and serves only events of transactions older than
every transaction still running (docs/adr/0005-event-feed-order.md).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "outbox",
        sa.Column(
            "txid",
            sa.BigInteger(),
            server_default=sa.text("(pg_current_xact_id()::text::bigint)"),
            nullable=False,
        ),
    )
    op.add_column(
        "outbox", sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False)
    )
    op.create_index("ix_outbox_tenant_id_txid_seq", "outbox", ["tenant_id", "txid", "seq"])
    op.create_index("ix_outbox_occurred_at", "outbox", ["occurred_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_occurred_at", table_name="outbox")
    op.drop_index("ix_outbox_tenant_id_txid_seq", table_name="outbox")
    op.drop_column("outbox", "seq")
    op.drop_column("outbox", "txid")
