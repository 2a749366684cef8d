"""Alembic glue shared by both services: find the ini, run `upgrade head`, compare revisions."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData, pool
from sqlalchemy.ext.asyncio import AsyncEngine, async_engine_from_config

from servicekit.core.settings import normalize_database_url

ENV_ALEMBIC_INI = "SERVICEKIT_ALEMBIC_INI"


def find_alembic_ini() -> Path:
    """The ini named by $SERVICEKIT_ALEMBIC_INI, else `migrations/alembic.ini` above the cwd."""
    explicit = os.environ.get(ENV_ALEMBIC_INI)
    if explicit:
        return Path(explicit)
    for base in (Path.cwd(), *Path.cwd().parents, *Path(__file__).resolve().parents):
        candidate = base / "migrations" / "alembic.ini"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("migrations/alembic.ini not found; set " + ENV_ALEMBIC_INI)


def alembic_config(section: str, database_url: str | None = None) -> Config:
    cfg = Config(str(find_alembic_ini()), ini_section=section)
    if database_url:
        cfg.attributes["database_url"] = normalize_database_url(database_url)
    return cfg


def upgrade_head(section: str, database_url: str) -> None:
    """Migrate one service's database to its head (blocking; call from a thread in async code)."""
    command.upgrade(alembic_config(section, database_url), "head")


def head_revision(section: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(section)).get_current_head()


def version_table(section: str) -> str:
    return alembic_config(section).get_section_option(section, "version_table") or "alembic_version"


async def current_revision(engine: AsyncEngine, section: str) -> str | None:
    table = version_table(section)

    def _read(conn: Connection) -> str | None:
        return MigrationContext.configure(
            conn, opts={"version_table": table}
        ).get_current_revision()

    async with engine.connect() as conn:
        return await conn.run_sync(_read)


def run_env(metadata: MetaData, *, env_var: str, default_url: Callable[[], str]) -> None:
    """Body of each service's env.py: async online migrations against the service's database."""
    from alembic import context  # noqa: PLC0415 - only importable while Alembic runs env.py

    cfg = context.config
    section = cfg.config_ini_section
    table = cfg.get_section_option(section, "version_table") or "alembic_version"
    url = (
        cfg.attributes.get("database_url")
        or context.get_x_argument(as_dictionary=True).get("url")
        or os.environ.get(env_var)
        or default_url()
    )
    url = normalize_database_url(url)

    def do_run(conn: Connection) -> None:
        context.configure(
            connection=conn,
            target_metadata=metadata,
            version_table=table,
            compare_type=True,
            compare_server_default=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    if context.is_offline_mode():
        context.configure(
            url=url, target_metadata=metadata, version_table=table, literal_binds=True
        )
        with context.begin_transaction():
            context.run_migrations()
        return

    async def run_async() -> None:
        engine = async_engine_from_config(
            {"sqlalchemy.url": url}, prefix="sqlalchemy.", poolclass=pool.NullPool
        )
        async with engine.connect() as conn:
            await conn.run_sync(do_run)
        await engine.dispose()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(run_async())
    else:  # pragma: no cover - called from inside a loop: run in a fresh thread's loop
        import threading  # noqa: PLC0415 - only on this rare path

        errors: list[BaseException] = []

        def target() -> None:
            try:
                asyncio.run(run_async())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                errors.append(exc)

        t = threading.Thread(target=target)
        t.start()
        t.join()
        if errors:
            raise errors[0]
