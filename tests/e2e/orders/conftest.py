"""One real orders process for the e2e session, trusting a test issuer's JWKS over loopback."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.support.backends import Backends
from tests.support.ids import redis_test_prefix
from tests.support.orders import add_idempotency_key
from tests.support.processes import ServiceProcess
from tests.support.redis_keys import delete_prefix_at
from tests.support.tokens import AUDIENCE, ISSUER, TestIssuer, serve_jwks

ClientFactory = Callable[..., httpx.Client]


@pytest.fixture(scope="session")
def issuer() -> TestIssuer:
    return TestIssuer()


def orders_env(
    *, database_url: str, redis_url: str, jwks_url: str, redis_prefix: str
) -> dict[str, str]:
    """The environment of an orders process for the e2e tests."""
    return {
        "ORDERS_DATABASE_URL": database_url,
        "ORDERS_REDIS_URL": redis_url,
        "ORDERS_JWKS_URL": jwks_url,
        "ORDERS_JWT_ISSUER": ISSUER,
        "ORDERS_JWT_AUDIENCE": AUDIENCE,
        "ORDERS_ENVIRONMENT": "test",
        "ORDERS_LOG_LEVEL": "WARNING",
        # The concurrency tests open many transactions at once.
        "ORDERS_DATABASE_POOL_SIZE": "20",
        # Cache entries and idempotency records (kept 24 h) under this run's own prefix.
        "ORDERS_CACHE_NAMESPACE": redis_prefix + "cache:",
        "ORDERS_IDEMPOTENCY_NAMESPACE": redis_prefix + "idem:",
    }


@pytest.fixture(scope="session")
def jwks_url(issuer: TestIssuer) -> Iterator[str]:
    with serve_jwks(issuer) as jwks:
        yield jwks.url


@pytest.fixture(scope="session")
def orders_redis_prefix(backends: Backends) -> Iterator[str]:
    """The prefix of every Redis key the session's orders process writes; deleted at the end."""
    prefix = redis_test_prefix("orders")
    yield prefix
    delete_prefix_at(backends.redis_url, prefix)


@pytest.fixture(scope="session")
def orders_url(
    backends: Backends,
    orders_database_url: str,
    jwks_url: str,
    orders_redis_prefix: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    env = orders_env(
        database_url=orders_database_url,
        redis_url=backends.redis_url,
        jwks_url=jwks_url,
        redis_prefix=orders_redis_prefix,
    )
    log = tmp_path_factory.mktemp("orders") / "orders.log"
    proc = ServiceProcess("orders_service.main:create_app", env, log).start()
    try:
        yield proc.base_url
    finally:
        proc.stop()


@pytest.fixture
def client_for(orders_url: str, issuer: TestIssuer, tenant: str) -> Iterator[ClientFactory]:
    """`client_for("editor")`: an HTTP client whose requests carry a token with that role."""
    clients: list[httpx.Client] = []

    def make(*roles: str, tenant_id: str | None = None, sub: str = "user-1") -> httpx.Client:
        token = issuer.issue(sub=sub, tenant_id=tenant_id or tenant, roles=list(roles))
        client = httpx.Client(
            base_url=orders_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
            event_hooks={"request": [add_idempotency_key]},
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def item_body(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "sku": f"SKU-{uuid.uuid4().hex[:8]}",
        "name": "Caneca azul",
        "description": "Caneca de cerâmica, 300 ml",
        "price": {"amount": "12.50", "currency": "BRL"},
        "category": "kitchen",
        "tags": ["ceramic", "blue"],
        "quantity": 10,
    }
    body.update(overrides)
    return body
