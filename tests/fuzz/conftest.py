"""Both services as real processes on the session's PostgreSQL and Redis, for fuzzing.

auth runs on a database of its own, with a user of every role created by its own CLI; its
callers hold real tokens from its password grant. orders trusts a `TestIssuer`'s JWKS served on
loopback (its tokens outlive any run, so the long profile never fuzzes with expired ones), and
its callers hold real RS256 tokens of every role from that issuer.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from servicekit.data.migrations import upgrade_head
from tests.support.auth_app import UNLIMITED_TOKEN_REQUESTS
from tests.support.backends import Backends, create_database, drop_database
from tests.support.environment import clean_environ
from tests.support.ids import redis_test_prefix
from tests.support.processes import REPO_ROOT, ServiceProcess
from tests.support.redis_keys import delete_prefix_at
from tests.support.tokens import JwksServer, TestIssuer, serve_jwks

ROLES = ("viewer", "editor", "admin")
CALLERS = ("anonymous", *ROLES)
FUZZ_TENANT = "tenant-fuzz"
AUTH_ISSUER = "http://auth.fuzz"


@pytest.fixture(scope="session")
def fuzz_issuer() -> Iterator[tuple[TestIssuer, JwksServer]]:
    issuer = TestIssuer()
    with serve_jwks(issuer) as server:
        yield issuer, server


def issuer_headers(issuer: TestIssuer, caller: str) -> dict[str, str]:
    """A `TestIssuer` caller: nothing for anonymous, a bearer token of its role otherwise."""
    if caller == "anonymous":
        return {}
    token = issuer.issue(sub=f"fuzz-{caller}", tenant_id=FUZZ_TENANT, roles=[caller], ttl_s=7200)
    return {"Authorization": f"Bearer {token}"}


@dataclass
class AuthUnderFuzz:
    """The auth process, its users' credentials, and their tokens (renewed before expiry)."""

    process: ServiceProcess
    passwords: dict[str, tuple[str, str]]  # role -> (email, password)
    token_ttl_s: int
    _tokens: dict[str, tuple[str, float]] = field(default_factory=dict)

    def headers(self, caller: str) -> dict[str, str]:
        if caller == "anonymous":
            return {}
        # No "fetched at 0.0" default: the monotonic clock counts from boot, so on a machine up
        # for less than half a token's lifetime that read as fresh and sent an empty token.
        held = self._tokens.get(caller)
        if held is None or time.monotonic() - held[1] > self.token_ttl_s / 2:
            email, password = self.passwords[caller]
            response = httpx.post(
                self.process.base_url + "/oauth/token",
                # auth's own API takes tokens for its own audience (RFC 8707 resource).
                data={
                    "grant_type": "password",
                    "username": email,
                    "password": password,
                    "resource": AUTH_ISSUER,
                },
                timeout=30,
            )
            assert response.status_code == 200, response.text
            token = response.json()["access_token"]
            held = (token, time.monotonic())
            self._tokens[caller] = held
        return {"Authorization": f"Bearer {held[0]}"}


def _auth_env(database_url: str) -> dict[str, str]:
    return {
        "AUTH_DATABASE_URL": database_url,
        "AUTH_ENVIRONMENT": "test",
        "AUTH_KEY_ENCRYPTION_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "AUTH_ISSUER": AUTH_ISSUER,
        "AUTH_ACCESS_TOKEN_TTL_S": "1800",
        # Cheap argon2: the production cost is a setting, not a code path.
        "AUTH_PASSWORD_HASH_TIME_COST": "1",
        "AUTH_PASSWORD_HASH_MEMORY_KIB": "8192",
        "AUTH_PASSWORD_HASH_PARALLELISM": "1",
        # The fuzzer sends thousands of token requests from one address on purpose.
        **{f"AUTH_{k.upper()}": str(v) for k, v in UNLIMITED_TOKEN_REQUESTS.items()},
    }


def _create_users(env: dict[str, str]) -> dict[str, tuple[str, str]]:
    """One user per role, through `auth-service users create` (password on stdin)."""
    users = {
        role: (f"fuzz-{role}-{uuid.uuid4().hex[:8]}@example.com", secrets.token_urlsafe(18))
        for role in ROLES
    }
    procs = [
        (
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "auth_service.cli",
                    "users",
                    "create",
                    "--email",
                    email,
                    "--role",
                    role,
                    "--tenant",
                    FUZZ_TENANT,
                ],
                env={**clean_environ(), **env},
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
            ),
            password,
        )
        for role, (email, password) in users.items()
    ]
    for proc, password in procs:
        out, _ = proc.communicate(password.encode() + b"\n", timeout=120)
        assert proc.returncode == 0, out.decode(errors="replace")
    return users


@pytest.fixture(scope="session")
async def fuzz_auth(
    backends: Backends, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AuthUnderFuzz]:
    url = await create_database(backends.postgres_url, "fuzz_auth")
    try:
        await asyncio.to_thread(upgrade_head, "auth", url)
        env = _auth_env(url)
        passwords = await asyncio.to_thread(_create_users, env)
        log = tmp_path_factory.mktemp("fuzz-auth") / "auth.log"
        proc = await asyncio.to_thread(
            ServiceProcess("auth_service.main:create_app", env, log).start
        )
        try:
            yield AuthUnderFuzz(proc, passwords, token_ttl_s=int(env["AUTH_ACCESS_TOKEN_TTL_S"]))
        finally:
            await asyncio.to_thread(proc.stop)
    finally:
        await drop_database(url)


@pytest.fixture(scope="session")
def auth_process(fuzz_auth: AuthUnderFuzz) -> ServiceProcess:
    return fuzz_auth.process


@pytest.fixture(scope="session")
def orders_process(
    orders_database_url: str,
    backends: Backends,
    fuzz_issuer: tuple[TestIssuer, JwksServer],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServiceProcess]:
    issuer, jwks = fuzz_issuer
    # Cache entries and idempotency records under this run's own prefix, deleted at the end.
    prefix = redis_test_prefix("fuzz-orders")
    env = {
        "ORDERS_DATABASE_URL": orders_database_url,
        "ORDERS_REDIS_URL": backends.redis_url,
        "ORDERS_JWKS_URL": jwks.url,
        "ORDERS_JWT_ISSUER": issuer.issuer,
        "ORDERS_JWT_AUDIENCE": issuer.audience,
        "ORDERS_ENVIRONMENT": "test",
        "ORDERS_CACHE_NAMESPACE": prefix + "cache:",
        "ORDERS_IDEMPOTENCY_NAMESPACE": prefix + "idem:",
    }
    log: Path = tmp_path_factory.mktemp("fuzz-orders") / "orders.log"
    proc = ServiceProcess("orders_service.main:create_app", env, log).start()
    try:
        yield proc
    finally:
        proc.stop()
        delete_prefix_at(backends.redis_url, prefix)
