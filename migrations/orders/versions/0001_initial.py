"""initial orders schema: items, pedidos, pedido lines, outbox

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _audit_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("updated_by", sa.String(255), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "items",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("price_amount", sa.Numeric(12, 2), nullable=False),
        sa.Column("price_currency", sa.String(3), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("tags", postgresql.ARRAY(sa.String(40)), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        *_audit_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_items"),
        sa.CheckConstraint("quantity >= 0", name="ck_items_quantity_non_negative"),
        sa.CheckConstraint("price_amount >= 0", name="ck_items_price_non_negative"),
        sa.CheckConstraint("version >= 1", name="ck_items_version_positive"),
        sa.CheckConstraint(
            "status IN ('active', 'inactive', 'out_of_stock', 'discontinued')",
            name="ck_items_status_known",
        ),
    )
    op.create_index(
        "uq_items_tenant_id_sku_live",
        "items",
        ["tenant_id", "sku"],
        unique=True,
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_index("ix_items_tenant_id_created_at_id", "items", ["tenant_id", "created_at", "id"])
    op.create_index("ix_items_tags", "items", ["tags"], postgresql_using="gin")

    op.create_table(
        "pedidos",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        *_audit_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_pedidos"),
        sa.CheckConstraint(
            "status IN ('pending', 'confirmed', 'processing', 'shipped', 'delivered', 'cancelled')",
            name="ck_pedidos_status_known",
        ),
        sa.CheckConstraint("version >= 1", name="ck_pedidos_version_positive"),
    )
    op.create_index(
        "ix_pedidos_tenant_id_created_at_id", "pedidos", ["tenant_id", "created_at", "id"]
    )
    op.create_index("ix_pedidos_tenant_id_customer_id", "pedidos", ["tenant_id", "customer_id"])

    op.create_table(
        "pedido_lines",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("pedido_id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Numeric(12, 2), nullable=False),
        sa.Column("discount", sa.Numeric(5, 2), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_pedido_lines"),
        sa.UniqueConstraint("pedido_id", "line_no", name="uq_pedido_lines_pedido_id"),
        sa.ForeignKeyConstraint(
            ["pedido_id"],
            ["pedidos.id"],
            name="fk_pedido_lines_pedido_id_pedidos",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name="fk_pedido_lines_item_id_items"),
        sa.CheckConstraint("quantity > 0", name="ck_pedido_lines_quantity_positive"),
        sa.CheckConstraint("unit_price >= 0", name="ck_pedido_lines_unit_price_non_negative"),
        sa.CheckConstraint(
            "discount >= 0 AND discount <= 100", name="ck_pedido_lines_discount_percentage"
        ),
    )
    op.create_index("ix_pedido_lines_item_id", "pedido_lines", ["item_id"])

    op.create_table(
        "outbox",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("aggregate_type", sa.String(32), nullable=False),
        sa.Column("aggregate_id", sa.Uuid(), nullable=False),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
    )
    op.create_index(
        "ix_outbox_unpublished",
        "outbox",
        ["occurred_at"],
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_index("ix_outbox_aggregate_id", "outbox", ["aggregate_id"])


def downgrade() -> None:
    op.drop_table("outbox")
    op.drop_table("pedido_lines")
    op.drop_table("pedidos")
    op.drop_table("items")
