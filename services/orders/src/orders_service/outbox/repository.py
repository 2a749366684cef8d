"""Every query of the outbox table."""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement
from sqlmodel import col

from orders_service.outbox.models import OutboxEvent
from orders_service.outbox.schemas import DOMAIN_EVENT, DomainEvent
from servicekit.data.repository import TenantRepository
from servicekit.data.specification import Specification


class _OutboxTenantSpec(Specification[OutboxEvent]):
    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id

    def is_satisfied_by(self, candidate: OutboxEvent) -> bool:
        return candidate.tenant_id == self.tenant_id

    def to_sql(self) -> ColumnElement[bool]:
        return col(OutboxEvent.tenant_id) == self.tenant_id


class OutboxRepository(TenantRepository[OutboxEvent]):
    model = OutboxEvent
    version_attr = None
    deleted_attr = None

    def tenant_spec(self) -> Specification[OutboxEvent]:
        return _OutboxTenantSpec(self.tenant_id)

    async def record(self, event: DomainEvent) -> OutboxEvent:
        """Write `event` in the current transaction (it commits or rolls back with the change).

        A plain sink: what reacts to an event once it commits is registered in the composition
        root (`orders_service.outbox.handlers`), not decided here.
        """
        row = OutboxEvent(
            tenant_id=event.tenant_id,
            event_type=event.event_type,
            aggregate_type=event.aggregate_type,
            aggregate_id=event.aggregate_id,
            payload=DOMAIN_EVENT.dump_python(event, mode="json"),
            occurred_at=event.occurred_at,
        )
        return await self.add(row)

    async def events_of(self, aggregate_id: uuid.UUID) -> list[DomainEvent]:
        """This tenant's events about one aggregate, oldest first."""
        stmt = (
            self.select()
            .where(col(OutboxEvent.aggregate_id) == aggregate_id)
            .order_by(col(OutboxEvent.occurred_at), col(OutboxEvent.id))
        )
        rows = (await self.session.execute(stmt)).scalars().all()
        return [DOMAIN_EVENT.validate_python(row.payload) for row in rows]
