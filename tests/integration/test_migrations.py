"""Each service's migrations build its schema from empty, and the models agree with it."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, MetaData
from sqlalchemy.ext.asyncio import create_async_engine

from servicekit.data.migrations import current_revision, head_revision, version_table


def _metadata(section: str) -> MetaData:
    if section == "auth":
        from auth_service.tables import metadata as auth_metadata  # noqa: PLC0415 - per section

        return auth_metadata
    from orders_service.tables import metadata as orders_metadata  # noqa: PLC0415 - per section

    return orders_metadata


@pytest.mark.parametrize("section", ["auth", "orders"])
async def test_upgrade_from_empty_reaches_head_and_matches_models(
    section: str, auth_database_url: str, orders_database_url: str
) -> None:
    # Both fixtures are databases migrated from empty by the session fixtures.
    url = auth_database_url if section == "auth" else orders_database_url
    engine = create_async_engine(url.replace("postgresql://", "postgresql+asyncpg://", 1))
    table = version_table(section)

    def diff(conn: Connection) -> list[object]:
        ctx = MigrationContext.configure(
            conn,
            opts={"compare_type": True, "version_table": table, "compare_server_default": True},
        )
        return list(compare_metadata(ctx, _metadata(section)))

    try:
        assert await current_revision(engine, section) == head_revision(section)
        async with engine.connect() as conn:
            assert await conn.run_sync(diff) == []
    finally:
        await engine.dispose()
