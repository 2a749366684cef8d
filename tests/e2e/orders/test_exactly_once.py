"""A keyed write happens once even when Redis forgets it or a COMMIT's reply is lost (issue 13).

The Idempotency-Key record is written in the write's own transaction, so a retry that Redis
cannot answer still finds it in PostgreSQL and gets the first response back.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from servicekit.core.problems import problem_type
from tests.e2e.orders.conftest import item_body, orders_env
from tests.support.backends import Backends
from tests.support.pgproxy import CommitReplyDropper, commit_dropper_for
from tests.support.processes import ServiceProcess
from tests.support.tokens import TestIssuer

PEDIDOS = "/api/v1/pedidos"


def _admin(base_url: str, issuer: TestIssuer, tenant: str) -> httpx.Client:
    token = issuer.issue(tenant_id=tenant, sub="user-1", roles=["admin"])
    return httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def _pedidos(api: httpx.Client) -> list[dict[str, object]]:
    items: list[dict[str, object]] = api.get(PEDIDOS, params={"limit": 100}).json()["items"]
    return items


def _forget_idempotency_records(redis_url: str, prefix: str) -> int:
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=prefix + "idem:*", count=1000))
        return int(client.delete(*keys)) if keys else 0
    finally:
        client.close()


def test_redis_losing_the_record_does_not_create_a_second_pedido(
    orders_url: str, issuer: TestIssuer, backends: Backends, orders_redis_prefix: str
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    with _admin(orders_url, issuer, tenant) as api:
        item_id = api.post("/api/v1/items", json=item_body(quantity=5)).json()["id"]
        key = {"Idempotency-Key": uuid.uuid4().hex}
        body = {"customer_id": "c-1", "items": [{"item_id": item_id, "quantity": 2}]}
        first = api.post(PEDIDOS, json=body, headers=key)
        assert first.status_code == 201, first.text
        assert _forget_idempotency_records(backends.redis_url, orders_redis_prefix) > 0

        again = api.post(PEDIDOS, json=body, headers=key)
        assert again.status_code == 201, again.text
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == first.json()
        assert again.headers["location"] == first.headers["location"]
        assert again.headers["etag"] == first.headers["etag"]
        assert len(_pedidos(api)) == 1

        # Confirm is keyed too: forgetting its record must not take the stock twice.
        confirm = f"{PEDIDOS}/{first.json()['id']}/confirm"
        confirm_key = {"Idempotency-Key": uuid.uuid4().hex}
        assert api.post(confirm, headers=confirm_key).status_code == 200
        _forget_idempotency_records(backends.redis_url, orders_redis_prefix)
        replay = api.post(confirm, headers=confirm_key)
        assert replay.status_code == 200, replay.text
        assert replay.headers["idempotent-replayed"] == "true"
        assert api.get(f"/api/v1/items/{item_id}").json()["quantity"] == 3

        # Another body under the same key is refused by PostgreSQL's record alone.
        _forget_idempotency_records(backends.redis_url, orders_redis_prefix)
        other = api.post(PEDIDOS, json={**body, "customer_id": "c-2"}, headers=key)
        assert other.status_code == 422, other.text
        assert other.headers["content-type"] == "application/problem+json"
        assert len(_pedidos(api)) == 1


@pytest.fixture
def dropper(orders_database_url: str) -> Iterator[CommitReplyDropper]:
    with commit_dropper_for(orders_database_url) as proxy:
        yield proxy


@pytest.fixture
def proxied_orders(
    dropper: CommitReplyDropper,
    orders_database_url: str,
    backends: Backends,
    jwks_url: str,
    tmp_path: Path,
) -> Iterator[str]:
    """An orders process whose every database connection goes through `dropper`."""
    prefix = f"test:{uuid.uuid4().hex[:12]}:orders:"
    env = orders_env(
        database_url=dropper.url_for(orders_database_url),
        redis_url=backends.redis_url,
        jwks_url=jwks_url,
        redis_prefix=prefix,
    )
    proc = ServiceProcess("orders_service.main:create_app", env, tmp_path / "orders.log").start()
    try:
        yield proc.base_url
    finally:
        proc.stop()
        _forget_idempotency_records(backends.redis_url, prefix)


def test_a_lost_commit_reply_then_a_retry_makes_one_pedido(
    proxied_orders: str, dropper: CommitReplyDropper, issuer: TestIssuer
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    with _admin(proxied_orders, issuer, tenant) as api:
        item_id = api.post("/api/v1/items", json=item_body(quantity=5)).json()["id"]
        key = {"Idempotency-Key": uuid.uuid4().hex}
        body = {"customer_id": "c-1", "items": [{"item_id": item_id, "quantity": 1}]}

        dropper.arm()
        # The COMMIT applied but its reply was lost: the server cannot know the outcome, and
        # says so with a 503 the client may retry under the same key (never a dropped
        # connection, nor a status that claims nothing was written).
        lost = api.post(PEDIDOS, json=body, headers=key)
        assert dropper.dropped.is_set(), "the COMMIT reply was not dropped"
        assert lost.status_code == 503, lost.text
        assert lost.headers["content-type"] == "application/problem+json"
        assert lost.headers["retry-after"] == "1"
        assert lost.json()["type"] == problem_type("commit-outcome-unknown")
        assert "Idempotency-Key" in lost.json()["detail"]

        retry = api.post(PEDIDOS, json=body, headers=key)
        assert retry.status_code == 201, retry.text
        assert retry.headers["idempotent-replayed"] == "true"
        pedidos = _pedidos(api)
        assert len(pedidos) == 1
        assert pedidos[0]["id"] == retry.json()["id"]
