"""Where the tests' PostgreSQL and Redis come from, in order of preference.

1. TEST_DATABASE_URL / TEST_REDIS_URL from the environment (CI: the machine's servers);
2. TEST_BACKEND=containers and a running Docker engine: testcontainers;
3. otherwise real servers from wheels (servicekit.embedded) in a temporary folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from servicekit.embedded import EmbeddedPostgres, EmbeddedRedis


@dataclass(frozen=True)
class Backends:
    postgres_url: str  # server URL; tests create their own databases on it
    redis_url: str


@contextlib.contextmanager
def _containers() -> Iterator[Backends]:
    from testcontainers.postgres import PostgresContainer  # noqa: PLC0415 - optional, slow import
    from testcontainers.redis import RedisContainer  # noqa: PLC0415 - optional, slow import

    with (
        PostgresContainer("postgres:17-alpine", driver=None) as pg,
        RedisContainer("redis:7-alpine") as rd,
    ):
        host, port = rd.get_container_host_ip(), rd.get_exposed_port(6379)
        yield Backends(pg.get_connection_url(), f"redis://{host}:{port}/0")


@contextlib.contextmanager
def _embedded() -> Iterator[Backends]:
    root = Path(tempfile.mkdtemp(prefix="servicekit-tests-"))
    try:
        with (
            EmbeddedPostgres(root / "pg") as pg,
            EmbeddedRedis(root / "redis", persist=False) as rd,
        ):
            yield Backends(pg.url(), rd.url())
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def open_backends() -> Iterator[Backends]:
    db, redis = os.environ.get("TEST_DATABASE_URL"), os.environ.get("TEST_REDIS_URL")
    if db and redis:
        yield Backends(db, redis)
    elif os.environ.get("TEST_BACKEND") == "containers":
        with _containers() as backends:
            yield backends
    else:
        with _embedded() as backends:
            yield Backends(db or backends.postgres_url, redis or backends.redis_url)


def with_database(server_url: str, database: str) -> str:
    """The same server URL pointing at another database."""
    base, _, _ = server_url.rpartition("/")
    return f"{base}/{database}"


def asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def create_database(server_url: str, prefix: str) -> str:
    """Create a fresh database named `<prefix>_<random>` and return its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(asyncpg_dsn(with_database(server_url, "postgres")))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return with_database(server_url, name)


async def drop_database(url: str) -> None:
    server, _, name = url.rpartition("/")
    conn = await asyncpg.connect(asyncpg_dsn(f"{server}/postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
