"""`auth-service users|clients create`, and the first accounts `make run` creates once."""

from __future__ import annotations

import asyncio
import io
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from auth_service import cli
from auth_service.devstack import FIRST_ADMIN_EMAIL, prepare_local_run
from auth_service.settings import get_settings
from tests.support.auth_app import (
    ISSUER,
    KEK_B64,
    AuthApp,
    auth_settings,
    fresh_auth_database,
    running_auth,
)
from tests.support.backends import Backends
from tests.support.ids import new_tenant


async def _run_cli(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    db_url: str,
    *args: str,
    stdin: str = "",
) -> tuple[int, str, str]:
    monkeypatch.setenv("AUTH_DATABASE_URL", db_url)
    monkeypatch.setenv("AUTH_KEY_ENCRYPTION_KEY", KEK_B64)
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    get_settings.cache_clear()
    try:
        code = await asyncio.to_thread(cli.main, list(args))
    finally:
        get_settings.cache_clear()
    out, err = capsys.readouterr()
    return code, out, err


async def test_users_create_reads_the_password_from_stdin_and_the_user_can_log_in(
    auth_app: AuthApp,
    auth_database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tenant = new_tenant()
    email = f"{tenant}@example.com"
    code, out, _ = await _run_cli(
        monkeypatch,
        capsys,
        auth_database_url,
        *("users", "create", "--email", email, "--role", "editor", "--tenant", tenant),
        stdin="a password from stdin\n",
    )
    assert code == 0
    assert "a password from stdin" not in out
    login = await auth_app.token(
        {"grant_type": "password", "username": email, "password": "a password from stdin"}
    )
    assert login.status_code == 200
    again, _, err = await _run_cli(
        monkeypatch,
        capsys,
        auth_database_url,
        *("users", "create", "--email", email, "--role", "viewer", "--tenant", tenant),
        stdin="another password here\n",
    )
    assert again == 1
    assert "already exists" in err


async def test_users_create_refuses_a_short_password(
    auth_database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = await _run_cli(
        monkeypatch,
        capsys,
        auth_database_url,
        *("users", "create", "--email", "s@example.com", "--role", "viewer", "--tenant", "t"),
        stdin="short\n",
    )
    assert code == 1
    assert "at least" in err


async def test_clients_create_prints_a_secret_that_works_once_shown(
    auth_app: AuthApp,
    auth_database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tenant = new_tenant()
    code, out, _ = await _run_cli(
        monkeypatch,
        capsys,
        auth_database_url,
        *("clients", "create", "--name", "reports", "--role", "viewer", "--tenant", tenant),
    )
    assert code == 0
    values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    response = await auth_app.token(
        {
            "grant_type": "client_credentials",
            "client_id": values["client_id"],
            "client_secret": values["client_secret"],
        }
    )
    assert response.status_code == 200


@pytest.fixture
async def own_db(backends: Backends) -> AsyncIterator[str]:
    async with fresh_auth_database(backends.postgres_url) as url:
        yield url


async def test_make_run_creates_the_first_admin_and_client_once_and_prints_them_once(
    own_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AUTH_KEY_ENCRYPTION_KEY", raising=False)
    first: list[str] = []
    env = await asyncio.to_thread(
        prepare_local_run, {"AUTH_DATABASE_URL": own_db}, data_dir=tmp_path, say=first.append
    )
    kek_file = tmp_path / "auth-key-encryption-key"
    assert stat.S_IMODE(kek_file.stat().st_mode) == 0o600
    assert env["AUTH_KEY_ENCRYPTION_KEY"] == kek_file.read_text().strip()
    printed = dict(line.strip().split("=", 1) for line in first if "=" in line)
    assert printed["username"] == FIRST_ADMIN_EMAIL
    assert {"password", "client_id", "client_secret"} <= set(printed)

    second: list[str] = []
    env_again = await asyncio.to_thread(
        prepare_local_run, {"AUTH_DATABASE_URL": own_db}, data_dir=tmp_path, say=second.append
    )
    assert env_again["AUTH_KEY_ENCRYPTION_KEY"] == env["AUTH_KEY_ENCRYPTION_KEY"]
    assert not any(printed["password"] in line for line in second)
    assert not any(printed["client_secret"] in line for line in second)
    assert any("exists" in line for line in second)

    settings = auth_settings(own_db, key_encryption_key=SecretStr(env["AUTH_KEY_ENCRYPTION_KEY"]))
    async with running_auth(settings) as app:
        admin = await app.token(
            {
                "grant_type": "password",
                "username": printed["username"],
                "password": printed["password"],
                "resource": ISSUER,
            }
        )
        assert admin.status_code == 200
        me = await app.client.get(
            "/api/v1/users/me",
            headers={"Authorization": "Bearer " + admin.json()["access_token"]},
        )
        assert me.json()["roles"] == ["admin"]
        client = await app.token(
            {
                "grant_type": "client_credentials",
                "client_id": printed["client_id"],
                "client_secret": printed["client_secret"],
            }
        )
        assert client.status_code == 200
        users = await app.client.get(
            "/api/v1/users", headers={"Authorization": "Bearer " + admin.json()["access_token"]}
        )
        assert len(users.json()["items"]) == 1  # created once, not once per run
