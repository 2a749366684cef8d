"""The pre-routing item read answers failures as the app does: problem+json, never a 500.

No server runs here: PostgreSQL and Redis are closed loopback ports, so every read misses the
cache, fails to reach the database, and must come back as the app's 503 problem.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from orders_service.main import create_app
from orders_service.settings import OrdersSettings
from servicekit.data.embedded import free_port
from tests.support.tokens import AUDIENCE, ISSUER, TestIssuer, serve_jwks

ISSUER_KEYS = TestIssuer()


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with serve_jwks(ISSUER_KEYS) as jwks:
        settings = OrdersSettings(
            environment="test",
            database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/orders",
            redis_url=f"redis://127.0.0.1:{free_port()}/0",
            jwks_url=jwks.url,
            jwt_issuer=ISSUER,
            jwt_audience=AUDIENCE,
            log_level="CRITICAL",
        )
        # Like a server: an error the app answered is not raised again into the test.
        with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
            yield test_client


def _auth(*roles: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + ISSUER_KEYS.issue(roles=list(roles))}


@pytest.mark.parametrize("spelling", [str, lambda u: str(u).upper()], ids=["canonical", "upper"])
def test_item_read_with_postgres_and_redis_down_is_a_503_problem(
    client: TestClient, spelling: object
) -> None:
    item_id = uuid.uuid4()
    response = client.get(f"/api/v1/items/{spelling(item_id)}", headers=_auth("viewer"))  # type: ignore[operator]
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "1"
    assert response.json()["type"].endswith("/dependency-unavailable")


def test_item_reads_the_fast_path_does_not_take_are_answered_by_the_route(
    client: TestClient,
) -> None:
    url = f"/api/v1/items/{uuid.uuid4()}"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=_auth("unknown-role")).status_code == 403
    assert client.get("/api/v1/items/" + "z" * 36, headers=_auth("viewer")).status_code == 422


def test_keyed_writes_with_redis_down_are_a_503_and_unkeyed_ones_reach_the_route(
    client: TestClient,
) -> None:
    body = {"customer_id": "c", "items": [{"item_id": str(uuid.uuid4()), "quantity": 1}]}
    keyed = client.post(
        "/api/v1/pedidos", json=body, headers={**_auth("editor"), "Idempotency-Key": "k1"}
    )
    assert keyed.status_code == 503
    assert keyed.json()["type"].endswith("/idempotency-unavailable")
    unkeyed = client.post("/api/v1/items/" + str(uuid.uuid4()), headers=_auth("editor"))
    assert unkeyed.status_code == 405
