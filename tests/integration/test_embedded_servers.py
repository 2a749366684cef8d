"""The embedded servers are real PostgreSQL and Redis; they stop cleanly and keep their data."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import psutil
import pytest
from redis import Redis

from servicekit.data.embedded import EmbeddedPostgres, EmbeddedRedis


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    """A folder outside pytest's temp root, which any pytest session starting on the machine
    resets to 0700: PostgreSQL, running as its own user when we are root, would lose its way
    to the data folder mid-start (seen with concurrent sessions)."""
    path = Path(tempfile.mkdtemp(prefix="embedded-servers-"))
    path.chmod(0o711)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _processes_using(path: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if str(path) in cmd and proc.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(proc)
    return found


def test_embedded_postgres_starts_stops_and_keeps_data(tmp_path: Path) -> None:
    data = tmp_path / "pg"

    async def write() -> None:
        conn = await asyncpg.connect(pg.url())
        await conn.execute("CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)")
        await conn.close()

    async def read() -> int:
        conn = await asyncpg.connect(pg.url())
        try:
            return int(await conn.fetchval("SELECT v FROM kept"))
        finally:
            await conn.close()

    with EmbeddedPostgres(data) as pg:
        asyncio.run(write())
    assert _processes_using(data) == []
    with EmbeddedPostgres(data) as pg:  # a new port, the same data folder
        assert asyncio.run(read()) == 42
    assert _processes_using(data) == []


def test_embedded_redis_starts_stops_and_keeps_data(tmp_path: Path) -> None:
    data = tmp_path / "redis"
    with EmbeddedRedis(data) as rd:
        Redis.from_url(rd.url()).set("kept", "yes")
    assert _processes_using(data) == []
    with EmbeddedRedis(data) as rd:
        assert Redis.from_url(rd.url()).get("kept") == b"yes"
    assert _processes_using(data) == []


def test_embedded_postgres_is_utf8_with_unicode_case_rules(tmp_path: Path) -> None:
    """A fresh cluster is not the C locale: lower() and upper() know accented letters."""

    async def probe(url: str) -> tuple[str, str, str]:
        conn = await asyncpg.connect(url)
        try:
            row = await conn.fetchrow(
                "SELECT lower('ÉDREDON') AS lo, upper('édredon') AS up,"
                " pg_encoding_to_char(encoding) AS enc FROM pg_database"
                " WHERE datname = current_database()"
            )
            assert row is not None
            return str(row["lo"]), str(row["up"]), str(row["enc"])
        finally:
            await conn.close()

    with EmbeddedPostgres(tmp_path / "pg") as pg:
        assert asyncio.run(probe(pg.url())) == ("édredon", "ÉDREDON", "UTF8")
