"""`orders-service events prune`: events older than the retention go, younger ones stay."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.ids import new_tenant
from tests.support.processes import REPO_ROOT

_INSERT = text(
    "INSERT INTO outbox (id, tenant_id, event_type, aggregate_type, aggregate_id, payload, "
    "occurred_at) VALUES (:id, :tenant, 'ItemUpdated', 'item', :agg, '{}', :at)"
)


async def _events_of(engine: AsyncEngine, tenants: list[str]) -> set[tuple[str, int]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT tenant_id, (now() - occurred_at) > interval '20 days' FROM outbox "
                "WHERE tenant_id = ANY(:tenants)"
            ),
            {"tenants": tenants},
        )
        return {(row[0], int(row[1])) for row in rows}


async def test_prune_deletes_every_tenants_events_past_the_retention(
    orders_engine: AsyncEngine, orders_database_url: str
) -> None:
    tenants = [new_tenant(), new_tenant()]
    now = datetime.now(UTC)
    async with orders_engine.begin() as conn:
        for tenant in tenants:
            for age_days in (40, 31, 10, 0):
                await conn.execute(
                    _INSERT,
                    {
                        "id": uuid.uuid4(),
                        "tenant": tenant,
                        "agg": uuid.uuid4(),
                        "at": now - timedelta(days=age_days),
                    },
                )
    env = {
        **os.environ,
        "ORDERS_DATABASE_URL": orders_database_url,
        "ORDERS_EVENTS_RETENTION_DAYS": "30",
    }
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "orders_service.cli", "events", "prune"],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "older than 30 days" in done.stdout
    remaining = await _events_of(orders_engine, tenants)
    # Two young events per tenant remain (one 10 days old, one new); the old ones are gone.
    assert remaining == {(tenant, 0) for tenant in tenants}
    async with orders_engine.connect() as conn:
        count = await conn.scalar(
            text("SELECT count(*) FROM outbox WHERE tenant_id = ANY(:t)"), {"t": tenants}
        )
    assert count == 4


async def test_idempotency_prune_deletes_records_past_the_retry_window(
    orders_engine: AsyncEngine, orders_database_url: str
) -> None:
    tenant = new_tenant()
    now = datetime.now(UTC)
    async with orders_engine.begin() as conn:
        for key, age_h in (("old", 30), ("young", 1)):
            await conn.execute(
                text(
                    "INSERT INTO idempotency_records (tenant_id, subject, route, key, "
                    "fingerprint, status, created_at) VALUES (:t, 's', 'POST /x', :k, 'f', 201, "
                    ":at)"
                ),
                {"t": tenant, "k": key, "at": now - timedelta(hours=age_h)},
            )
    env = {
        **os.environ,
        "ORDERS_DATABASE_URL": orders_database_url,
        "ORDERS_IDEMPOTENCY_TTL_S": str(24 * 3600),
    }
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "orders_service.cli", "idempotency", "prune"],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    async with orders_engine.connect() as conn:
        keys = (
            await conn.execute(
                text("SELECT key FROM idempotency_records WHERE tenant_id = :t"), {"t": tenant}
            )
        ).scalars()
        assert list(keys) == ["young"]
