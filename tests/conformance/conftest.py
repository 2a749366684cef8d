"""One real auth process for the conformance tier, with a confidential client and a user made
by the console script, spoken to only by third-party OAuth/JOSE libraries."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest

from tests.support.auth_app import (
    KEK_B64,
    PASSWORD,
    UNLIMITED_TOKEN_REQUESTS,
    fresh_auth_database,
)
from tests.support.backends import Backends
from tests.support.processes import REPO_ROOT, ServiceProcess


@dataclass(frozen=True)
class AuthServer:
    base_url: str
    client_id: str
    client_secret: str
    username: str
    password: str

    @property
    def issuer(self) -> str:
        return self.base_url  # AUTH_ISSUER is set to the process's own URL

    @property
    def token_endpoint(self) -> str:
        return self.base_url + "/oauth/token"

    @property
    def revocation_endpoint(self) -> str:
        return self.base_url + "/oauth/revoke"

    @property
    def jwks_uri(self) -> str:
        return self.base_url + "/.well-known/jwks.json"


def _cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "auth_service.cli", *args],
        env={**os.environ, **env},
        input=stdin,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="session")
async def conformance_db(backends: Backends) -> AsyncIterator[str]:
    async with fresh_auth_database(backends.postgres_url) as url:
        yield url


@pytest.fixture(scope="session")
def auth_server(
    conformance_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AuthServer]:
    process = ServiceProcess(
        "auth_service.main:create_app", {}, tmp_path_factory.mktemp("conformance") / "auth.log"
    )
    env = {
        "AUTH_DATABASE_URL": conformance_db,
        "AUTH_KEY_ENCRYPTION_KEY": KEK_B64,
        "AUTH_ENVIRONMENT": "test",
        "AUTH_ISSUER": process.base_url,
        "AUTH_PASSWORD_HASH_MEMORY_KIB": "8192",
        "AUTH_PASSWORD_HASH_TIME_COST": "1",
        **{f"AUTH_{k.upper()}": str(v) for k, v in UNLIMITED_TOKEN_REQUESTS.items()},
    }
    process.env = env
    username = "conformance@example.com"
    _cli(
        env,
        "users",
        "create",
        "--email",
        username,
        "--role",
        "admin",
        "--tenant",
        "conf",
        stdin=PASSWORD + "\n",
    )
    created = _cli(
        env, "clients", "create", "--name", "conformance", "--role", "editor", "--tenant", "conf"
    )
    values = dict(line.split("=", 1) for line in created.splitlines() if "=" in line)
    process.start(timeout_s=90)
    try:
        yield AuthServer(
            process.base_url, values["client_id"], values["client_secret"], username, PASSWORD
        )
    finally:
        process.stop()


@pytest.fixture(autouse=True)
def _authlib_over_loopback_http(monkeypatch: pytest.MonkeyPatch) -> None:
    # authlib refuses plain http (and an http issuer) unless told the transport is local:
    # its documented switch for tests; the process is on 127.0.0.1 only.
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
