"""The outbox table: domain events, written in the transaction of the change they describe.

A relay (not part of this service yet) reads unpublished rows in `occurred_at` order, publishes
them and sets `published_at`; the partial index keeps that scan small however long the table.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Identity, Index, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

from orders_service.db import OrdersTable


class OutboxEvent(OrdersTable, table=True):
    __tablename__ = "outbox"
    __table_args__ = (
        Index(
            "ix_outbox_unpublished",
            "occurred_at",
            postgresql_where=text("published_at IS NULL"),
        ),
        Index("ix_outbox_aggregate_id", "aggregate_id"),
        # The event feed (orders_service.events): one tenant's events in feed order.
        Index("ix_outbox_tenant_id_txid_seq", "tenant_id", "txid", "seq"),
        # Pruning by age.
        Index("ix_outbox_occurred_at", "occurred_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    tenant_id: str = Field(sa_type=String(64), nullable=False)
    event_type: str = Field(sa_type=String(64), nullable=False)
    aggregate_type: str = Field(sa_type=String(32), nullable=False)
    aggregate_id: uuid.UUID = Field(nullable=False)
    payload: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    occurred_at: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
    published_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    # Feed order (docs/adr/0005-event-feed-order.md), both set by PostgreSQL on insert: the
    # writing transaction's id, and a sequence that orders the events of one transaction.
    txid: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger,
            server_default=text("(pg_current_xact_id()::text::bigint)"),
            nullable=False,
        ),
    )
    seq: int | None = Field(
        default=None, sa_column=Column(BigInteger, Identity(always=False), nullable=False)
    )
