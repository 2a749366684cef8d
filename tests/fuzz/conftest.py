"""Both services as real uvicorn processes on the session's PostgreSQL and Redis, for fuzzing.

orders trusts a `TestIssuer`'s JWKS served on loopback, so the fuzzer holds real RS256 tokens
of every role; auth runs on its own migrated database.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.backends import Backends
from tests.support.processes import ServiceProcess
from tests.support.tokens import JwksServer, TestIssuer, serve_jwks

ROLES = ("viewer", "editor", "admin")
CALLERS = ("anonymous", *ROLES)
FUZZ_TENANT = "tenant-fuzz"


@pytest.fixture(scope="session")
def fuzz_issuer() -> Iterator[tuple[TestIssuer, JwksServer]]:
    issuer = TestIssuer()
    with serve_jwks(issuer) as server:
        yield issuer, server


def issuer_headers(issuer: TestIssuer, caller: str) -> dict[str, str]:
    """The headers a caller sends: none for anonymous, a bearer token of its role otherwise."""
    if caller == "anonymous":
        return {}
    token = issuer.issue(sub=f"fuzz-{caller}", tenant_id=FUZZ_TENANT, roles=[caller], ttl_s=7200)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="session")
def auth_process(
    auth_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    env = {"AUTH_DATABASE_URL": auth_database_url, "AUTH_ENVIRONMENT": "test"}
    log = tmp_path_factory.mktemp("fuzz-auth") / "auth.log"
    proc = ServiceProcess("auth_service.main:create_app", env, log).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def orders_process(
    orders_database_url: str,
    backends: Backends,
    fuzz_issuer: tuple[TestIssuer, JwksServer],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServiceProcess]:
    issuer, jwks = fuzz_issuer
    env = {
        "ORDERS_DATABASE_URL": orders_database_url,
        "ORDERS_REDIS_URL": backends.redis_url,
        "ORDERS_JWKS_URL": jwks.url,
        "ORDERS_JWT_ISSUER": issuer.issuer,
        "ORDERS_JWT_AUDIENCE": issuer.audience,
        "ORDERS_ENVIRONMENT": "test",
    }
    log = tmp_path_factory.mktemp("fuzz-orders") / "orders.log"
    proc = ServiceProcess("orders_service.main:create_app", env, log).start()
    yield proc
    proc.stop()
