"""The idempotency_records table: one row per keyed write that committed.

Redis (servicekit.web.idempotency) answers most retries, but it can lose a record (failover,
eviction) or never get one (the process died between COMMIT and storing the response). This
row is written in the same transaction as the write itself, so whenever the write exists its
key, fingerprint and response exist too; the primary key is the unique index on the scope.
"""

from datetime import datetime

from sqlalchemy import DateTime, Index, LargeBinary, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Column, Field

from orders_service.db import OrdersTable


class IdempotencyRecord(OrdersTable, table=True):
    __tablename__ = "idempotency_records"
    # Pruning scans by age.
    __table_args__ = (Index("ix_idempotency_records_created_at", "created_at"),)

    # The scope the middleware keys Redis by: tenant, subject, "METHOD /route/template", key.
    tenant_id: str = Field(sa_type=String(64), primary_key=True)
    subject: str = Field(sa_type=String(255), primary_key=True)
    route: str = Field(sa_type=String(300), primary_key=True)
    key: str = Field(sa_type=String(255), primary_key=True)
    fingerprint: str = Field(sa_type=String(64), nullable=False)
    # The response as first sent (null only inside the writing transaction).
    status: int | None = Field(default=None, nullable=True)
    headers: list[list[str]] | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    body: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    created_at: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
