"""Two orders replicas on one Redis: a write on one evicts the other's in-process layer through
Redis pub/sub, long before that layer's own TTL would (the staleness bound of the layer)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.orders.conftest import item_body, orders_env
from tests.support.backends import Backends
from tests.support.ids import redis_test_prefix
from tests.support.processes import ServiceProcess
from tests.support.redis_keys import delete_prefix_at
from tests.support.tokens import TestIssuer

# Far beyond the test's patience: a change seen in time was delivered by pub/sub.
LOCAL_TTL_S = 60
SEEN_WITHIN_S = 5


@pytest.fixture
def replicas(
    backends: Backends, orders_database_url: str, jwks_url: str, tmp_path: Path
) -> Iterator[tuple[str, str]]:
    prefix = redis_test_prefix("replicas")
    env = orders_env(
        database_url=orders_database_url,
        redis_url=backends.redis_url,
        jwks_url=jwks_url,
        redis_prefix=prefix,
    )
    env["ORDERS_CACHE_LOCAL_TTL_S"] = str(LOCAL_TTL_S)
    one = ServiceProcess("orders_service.main:create_app", env, tmp_path / "one.log").start()
    two = ServiceProcess("orders_service.main:create_app", env, tmp_path / "two.log").start()
    try:
        yield one.base_url, two.base_url
    finally:
        one.stop()
        two.stop()
        delete_prefix_at(backends.redis_url, prefix)


def _seen(client: httpx.Client, url: str, check: object) -> float:
    """Seconds until `check(response)` holds for a GET of `url` on `client` (bounded)."""
    started = time.monotonic()
    while not check(client.get(url)):  # type: ignore[operator]
        assert time.monotonic() - started < SEEN_WITHIN_S, "the other replica kept a stale item"
        time.sleep(0.01)
    return time.monotonic() - started


def test_a_write_on_one_replica_evicts_the_other_replicas_in_process_entry(
    replicas: tuple[str, str], issuer: TestIssuer
) -> None:
    first, second = replicas
    headers = {"Authorization": "Bearer " + issuer.issue(tenant_id="t-replicas", roles=["admin"])}
    with (
        httpx.Client(base_url=first, headers=headers, timeout=30) as writer,
        httpx.Client(base_url=second, headers=headers, timeout=30) as reader,
    ):
        url = writer.post("/api/v1/items", json=item_body(name="v1")).headers["location"]
        for _ in range(3):  # cached in the reader's process (and in Redis)
            assert reader.get(url).json()["name"] == "v1"

        assert writer.patch(url, json={"name": "v2"}).status_code == 200
        _seen(reader, url, lambda r: r.json()["name"] == "v2")
        for _ in range(3):
            assert reader.get(url).json()["name"] == "v2"  # and it stays fresh

        assert writer.delete(url).status_code == 204
        _seen(reader, url, lambda r: r.status_code == 404)
