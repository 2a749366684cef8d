"""charts/stack/files/init-databases.sh (run by the postgres image in the stack chart and in
compose) creates one login role and one owned database per service, on a real PostgreSQL."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import asyncpg
import pytest

from tests.support.backends import Backends, asyncpg_dsn, with_database
from tests.support.dockerfile import REPO_ROOT

SCRIPT = REPO_ROOT / "charts" / "stack" / "files" / "init-databases.sh"


def _run(server_url: str, extra_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    assert shutil.which("psql"), "psql (postgresql-client) is needed, as in the postgres image"
    url = urlsplit(asyncpg_dsn(server_url))
    env = {
        "PATH": os.environ["PATH"],
        "PGHOST": url.hostname or "127.0.0.1",
        "PGPORT": str(url.port or 5432),
        "POSTGRES_USER": url.username or "postgres",
        **({"PGPASSWORD": url.password} if url.password else {}),
        **extra_env,
    }
    return subprocess.run(["sh", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
async def names(backends: Backends) -> AsyncIterator[list[str]]:
    suffix = uuid.uuid4().hex[:8]
    created = [f"t_initdb_{suffix}_a", f"t_initdb_{suffix}_b"]
    yield created
    conn = await asyncpg.connect(asyncpg_dsn(with_database(backends.postgres_url, "postgres")))
    try:
        for name in created:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f'DROP ROLE IF EXISTS "{name}"')
    finally:
        await conn.close()


async def test_creates_an_owned_database_and_a_login_role_per_name(
    backends: Backends, names: list[str]
) -> None:
    passwords = {n: f"pw-{uuid.uuid4().hex}" for n in names}
    result = _run(
        backends.postgres_url,
        {
            "APP_DATABASES": " ".join(names),
            **{f"{n.upper()}_DB_PASSWORD": p for n, p in passwords.items()},
        },
    )
    assert result.returncode == 0, result.stderr
    admin = await asyncpg.connect(asyncpg_dsn(with_database(backends.postgres_url, "postgres")))
    try:
        for name in names:
            role = await admin.fetchrow(
                "SELECT rolcanlogin, rolsuper, rolpassword IS NOT NULL AS has_password "
                "FROM pg_authid WHERE rolname = $1",
                name,
            )
            assert role is not None
            assert role["rolcanlogin"]
            assert not role["rolsuper"]
            assert role["has_password"]
            owner = await admin.fetchval(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1", name
            )
            assert owner == name
    finally:
        await admin.close()
    # the service's own role can work in its own database
    url = urlsplit(asyncpg_dsn(backends.postgres_url))
    own = await asyncpg.connect(
        host=url.hostname,
        port=url.port,
        user=names[0],
        password=passwords[names[0]],
        database=names[0],
    )
    try:
        await own.execute("CREATE TABLE t (id int)")
        assert await own.fetchval("SELECT current_user") == names[0]
    finally:
        await own.close()


async def test_a_missing_password_stops_with_a_message(
    backends: Backends, names: list[str]
) -> None:
    result = _run(backends.postgres_url, {"APP_DATABASES": names[0]})
    assert result.returncode != 0
    assert f"{names[0].upper()}_DB_PASSWORD is not set" in result.stderr
    admin = await asyncpg.connect(asyncpg_dsn(with_database(backends.postgres_url, "postgres")))
    try:
        assert await admin.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", names[0]) is None
    finally:
        await admin.close()
