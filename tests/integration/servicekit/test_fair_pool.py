"""The services' connection pool against real PostgreSQL: first come, first served; no leaks.

SQLAlchemy's own asyncio pool lets a request that asks while a returned connection is on its
way to the oldest waiter take that connection (see servicekit.data.fair_pool); under
sustained load that waiter can lose every such race until its pool timeout.
"""

from __future__ import annotations

import asyncio
import logging
import random

import pytest
from sqlalchemy import text
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine

from orders_service.settings import OrdersSettings
from servicekit.data.db import create_engine
from servicekit.data.fair_pool import FairAsyncAdaptedQueuePool
from tests.support.waiting import loop_until


def _engine(database_url: str, *, size: int, timeout_s: float) -> AsyncEngine:
    settings = OrdersSettings(
        database_url=database_url, database_pool_size=size, database_pool_timeout_s=timeout_s
    )
    return create_engine(settings, application_name="test-fair-pool")


async def test_a_waiting_request_gets_the_connection_before_a_later_one(
    orders_database_url: str,
) -> None:
    # One connection. "holder" has it, "waiter" waits for it; "holder" gives it back and at
    # once asks again, as a busy worker's next request does. The waiter asked first.
    engine = _engine(orders_database_url, size=1, timeout_s=2.0)
    pool = engine.pool
    assert isinstance(pool, FairAsyncAdaptedQueuePool)
    served: list[str] = []
    try:
        holder = await engine.connect()
        await holder.execute(text("SELECT 1"))

        async def waiter() -> None:
            async with engine.connect() as conn:
                served.append("waiter")
                await conn.execute(text("SELECT 1"))

        waiting = asyncio.create_task(waiter())
        await loop_until(lambda: pool.waiting() == 1)
        await holder.close()
        async with engine.connect() as again:  # asks before the waiter has run
            served.append("holder again")
            await again.execute(text("SELECT 1"))
        await waiting
        assert served == ["waiter", "holder again"]
    finally:
        await engine.dispose()


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_no_connection_is_lost_to_timeouts_and_cancellations(
    orders_database_url: str, seed: int
) -> None:
    # Many more requests than connections, some cancelled while they wait (a client gone),
    # some timing out: afterwards every connection is back and each can be checked out.
    rng = random.Random(seed)
    engine = _engine(orders_database_url, size=3, timeout_s=0.05)
    outcomes = {"served": 0, "timed out": 0, "cancelled": 0}

    async def request() -> None:
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT pg_sleep(:s)"), {"s": rng.uniform(0, 0.01)})
            outcomes["served"] += 1
        except PoolTimeoutError:
            outcomes["timed out"] += 1

    try:
        tasks = [asyncio.create_task(request()) for _ in range(60)]
        for task in rng.sample(tasks, 20):
            await asyncio.sleep(rng.uniform(0, 0.005))
            task.cancel()
        for task in tasks:
            try:
                await task
            except asyncio.CancelledError:
                outcomes["cancelled"] += 1
        assert sum(outcomes.values()) == 60
        assert outcomes["served"] > 0
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        held = [await engine.connect() for _ in range(3)]
        for conn in held:
            assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
            await conn.close()
    finally:
        await engine.dispose()


async def test_the_pool_logs_under_sqlalchemys_namespace_like_the_pool_it_replaces(
    orders_database_url: str,
) -> None:
    # Named after our module it logged "Pool disposed" / "Pool recreating" at INFO into
    # every service's log (and onto closed streams at interpreter exit).
    engine = _engine(orders_database_url, size=1, timeout_s=1.0)
    try:
        logger = engine.pool.logger
        name = getattr(logger, "name", None) or logger.logger.name  # type: ignore[union-attr]
        assert name.startswith("sqlalchemy.pool.")
        assert not logging.getLogger(name).isEnabledFor(logging.INFO)
    finally:
        await engine.dispose()
