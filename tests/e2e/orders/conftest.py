"""One real orders process for the e2e session, trusting a test issuer's JWKS over loopback."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.support.backends import Backends
from tests.support.processes import ServiceProcess
from tests.support.tokens import AUDIENCE, ISSUER, TestIssuer, serve_jwks

ClientFactory = Callable[..., httpx.Client]


@pytest.fixture(scope="session")
def issuer() -> TestIssuer:
    return TestIssuer()


@pytest.fixture(scope="session")
def orders_url(
    issuer: TestIssuer,
    backends: Backends,
    orders_database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    with serve_jwks(issuer) as jwks:
        env = {
            "ORDERS_DATABASE_URL": orders_database_url,
            "ORDERS_REDIS_URL": backends.redis_url,
            "ORDERS_JWKS_URL": jwks.url,
            "ORDERS_JWT_ISSUER": ISSUER,
            "ORDERS_JWT_AUDIENCE": AUDIENCE,
            "ORDERS_ENVIRONMENT": "test",
            "ORDERS_LOG_LEVEL": "WARNING",
            # The concurrency test opens many transactions at once.
            "ORDERS_DATABASE_POOL_SIZE": "20",
        }
        log = tmp_path_factory.mktemp("orders") / "orders.log"
        proc = ServiceProcess("orders_service.main:create_app", env, log).start()
        try:
            yield proc.base_url
        finally:
            proc.stop()


@pytest.fixture
def tenant() -> str:
    """A tenant of this test alone: tests share one database and never see each other."""
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def client_for(orders_url: str, issuer: TestIssuer, tenant: str) -> Iterator[ClientFactory]:
    """`client_for("editor")`: an HTTP client whose requests carry a token with that role."""
    clients: list[httpx.Client] = []

    def make(*roles: str, tenant_id: str | None = None, sub: str = "user-1") -> httpx.Client:
        token = issuer.issue(sub=sub, tenant_id=tenant_id or tenant, roles=list(roles))
        client = httpx.Client(
            base_url=orders_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
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
