"""items.search_text: name, SKU and description folded for case- and accent-insensitive search

Folding is done by the application (orders_service._text.fold), never by the server's locale;
this revision adds the column and fills it for existing rows. See ADR 0004.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from orders_service._text import search_text

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 1000


def upgrade() -> None:
    op.add_column("items", sa.Column("search_text", sa.Text(), nullable=True))
    items = sa.table(
        "items",
        sa.column("id", sa.Uuid()),
        sa.column("name", sa.Text()),
        sa.column("sku", sa.Text()),
        sa.column("description", sa.Text()),
        sa.column("search_text", sa.Text()),
    )
    conn = op.get_bind()
    while True:
        rows = conn.execute(
            sa.select(items.c.id, items.c.name, items.c.sku, items.c.description)
            .where(items.c.search_text.is_(None))
            .limit(_BATCH)
        ).all()
        if not rows:
            break
        for row in rows:
            conn.execute(
                sa.update(items)
                .where(items.c.id == row.id)
                .values(search_text=search_text(row.name, row.sku, row.description))
            )
    # No server default: a write that bypasses the ORM listener fails loudly instead of
    # storing an item that no search can find.
    op.alter_column("items", "search_text", nullable=False)


def downgrade() -> None:
    op.drop_column("items", "search_text")
