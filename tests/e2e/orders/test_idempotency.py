"""Idempotency-Key on the real orders process and its PostgreSQL and Redis (issue 7)."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.e2e.orders.conftest import item_body
from tests.support.ids import new_tenant
from tests.support.metrics import scrape, value
from tests.support.tokens import TestIssuer

PEDIDOS = "/api/v1/pedidos"
REPLAYED = ("idempotent-replayed", "x-idempotent-replayed")
PROBLEM = "application/problem+json"


def _client(
    orders_url: str, issuer: TestIssuer, *, tenant: str, sub: str = "user-1"
) -> httpx.Client:
    token = issuer.issue(tenant_id=tenant, sub=sub, roles=["admin"])
    return httpx.Client(
        base_url=orders_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def _new_item(api: httpx.Client, quantity: int = 100) -> str:
    response = api.post("/api/v1/items", json=item_body(quantity=quantity))
    assert response.status_code == 201, response.text
    item_id: str = response.json()["id"]
    return item_id


def _pedido_count(api: httpx.Client) -> int:
    return len(api.get(PEDIDOS, params={"limit": 100}).json()["items"])


def _encode(value: Any, rng: random.Random) -> bytes:
    """The same JSON with keys shuffled and another layout: the same request to a server."""

    def shuffle(node: Any) -> Any:
        if isinstance(node, dict):
            keys = list(node)
            rng.shuffle(keys)
            return {k: shuffle(node[k]) for k in keys}
        if isinstance(node, list):
            return [shuffle(v) for v in node]
        return node

    return json.dumps(shuffle(value), indent=rng.choice([None, 2])).encode()


def _keyed(key: str, *, quoted: bool = False) -> dict[str, str]:
    return {"Idempotency-Key": f'"{key}"' if quoted else key, "Content-Type": "application/json"}


@settings(max_examples=12)
@given(
    replays=st.integers(min_value=1, max_value=4),
    quantity=st.integers(min_value=1, max_value=5),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_any_sequence_of_replays_creates_one_pedido_and_answers_like_the_first(
    orders_url: str, issuer: TestIssuer, replays: int, quantity: int, seed: int
) -> None:
    """For any number of retries of one keyed POST /pedidos (in any JSON layout, key bare or
    quoted), exactly one pedido exists and every answer has the first one's status, body and
    Location, marked as a replay."""
    rng = random.Random(seed)
    with _client(orders_url, issuer, tenant=new_tenant()) as api:
        body = {"customer_id": "c1", "items": [{"item_id": _new_item(api), "quantity": quantity}]}
        key = uuid.uuid4().hex
        first = api.post(PEDIDOS, content=_encode(body, rng), headers=_keyed(key))
        assert first.status_code == 201, first.text
        assert not any(h in first.headers for h in REPLAYED)
        for _ in range(replays):
            quoted = rng.random() < 0.5
            again = api.post(
                PEDIDOS, content=_encode(body, rng), headers=_keyed(key, quoted=quoted)
            )
            assert (again.status_code, again.content) == (first.status_code, first.content)
            assert again.headers["location"] == first.headers["location"]
            assert again.headers["etag"] == first.headers["etag"]
            assert all(again.headers[h] == "true" for h in REPLAYED)
        assert _pedido_count(api) == 1


@settings(max_examples=12)
@given(
    change=st.sampled_from(["quantity", "customer", "discount", "extra line", "query"]),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_the_same_key_with_another_request_is_422_and_changes_nothing(
    orders_url: str, issuer: TestIssuer, change: str, seed: int
) -> None:
    """For any change to the request (body or target), a reused key is a 422 problem: no
    second pedido, no changed pedido, and the original request still replays."""
    with _client(orders_url, issuer, tenant=new_tenant()) as api:
        item = _new_item(api)
        body: dict[str, Any] = {"customer_id": "c1", "items": [{"item_id": item, "quantity": 1}]}
        key = uuid.uuid4().hex
        first = api.post(PEDIDOS, json=body, headers=_keyed(key))
        assert first.status_code == 201
        other = json.loads(json.dumps(body))
        path = PEDIDOS
        if change == "quantity":
            other["items"][0]["quantity"] = 2
        elif change == "customer":
            other["customer_id"] = "c2"
        elif change == "discount":
            other["items"][0]["discount"] = "10"
        elif change == "extra line":
            other["items"].append({"item_id": item, "quantity": 1})
        else:
            path = f"{PEDIDOS}?via=retry"
        conflict = api.post(path, content=_encode(other, random.Random(seed)), headers=_keyed(key))
        assert conflict.status_code == 422, conflict.text
        assert conflict.headers["content-type"] == PROBLEM
        assert conflict.json()["type"].endswith("/idempotency-key-reused")
        assert _pedido_count(api) == 1
        assert api.get(first.headers["location"]).json() == first.json()
        replay = api.post(PEDIDOS, json=body, headers=_keyed(key))
        assert (replay.status_code, replay.content) == (201, first.content)


async def _post_all(
    orders_url: str, token: str, body: bytes, key: str, n: int
) -> list[httpx.Response]:
    headers = {"Authorization": f"Bearer {token}", **_keyed(key)}
    limits = httpx.Limits(max_connections=n)
    async with httpx.AsyncClient(
        base_url=orders_url, headers=headers, timeout=60, limits=limits
    ) as c:
        return await asyncio.gather(*(c.post(PEDIDOS, content=body) for _ in range(n)))


def test_fifty_parallel_identical_keyed_posts_create_exactly_one_pedido(
    orders_url: str, issuer: TestIssuer
) -> None:
    tenant = new_tenant()
    with _client(orders_url, issuer, tenant=tenant) as api:
        body = {"customer_id": "c1", "items": [{"item_id": _new_item(api), "quantity": 1}]}
        token = issuer.issue(tenant_id=tenant, sub="user-1", roles=["admin"])
        responses = asyncio.run(
            _post_all(orders_url, token, json.dumps(body).encode(), uuid.uuid4().hex, 50)
        )
        created = [r for r in responses if r.status_code == 201]
        busy = [r for r in responses if r.status_code == 409]
        assert len(created) + len(busy) == 50, {r.status_code for r in responses}
        originals = [r for r in created if "idempotent-replayed" not in r.headers]
        assert len(originals) == 1
        assert all(r.content == originals[0].content for r in created)
        assert all(
            r.headers["idempotent-replayed"] == "true" for r in created if r not in originals
        )
        for response in busy:
            assert response.json()["type"].endswith("/idempotency-key-in-progress")
            assert int(response.headers["retry-after"]) >= 1
        assert _pedido_count(api) == 1


def test_confirm_requires_a_key_and_a_replay_reserves_stock_once(
    orders_url: str, issuer: TestIssuer
) -> None:
    with _client(orders_url, issuer, tenant=new_tenant()) as api:
        item = _new_item(api, quantity=10)
        body = {"customer_id": "c1", "items": [{"item_id": item, "quantity": 4}]}
        missing = api.post(PEDIDOS, json=body)
        assert missing.status_code == 400
        assert missing.headers["content-type"] == PROBLEM
        assert missing.json()["type"].endswith("/idempotency-key-missing")
        assert _pedido_count(api) == 0
        for bad in (b"", b"a b", b"x" * 256, b'"unterminated', "é".encode("latin-1")):
            invalid = api.post(PEDIDOS, json=body, headers=[(b"idempotency-key", bad)])
            assert invalid.status_code == 400, bad
            assert invalid.json()["type"].endswith("/idempotency-key-invalid")
        assert _pedido_count(api) == 0

        pedido = api.post(PEDIDOS, json=body, headers=_keyed(uuid.uuid4().hex)).json()
        confirm = f"{PEDIDOS}/{pedido['id']}/confirm"
        unkeyed = api.post(confirm)
        assert unkeyed.status_code == 400
        assert api.get(f"{PEDIDOS}/{pedido['id']}").json()["status"] == "pending"

        key = uuid.uuid4().hex
        first = api.post(confirm, headers={"Idempotency-Key": key})
        assert first.status_code == 200, first.text
        again = api.post(confirm, headers={"Idempotency-Key": key})
        assert (again.status_code, again.content) == (200, first.content)
        assert again.headers["idempotent-replayed"] == "true"
        assert api.get(f"/api/v1/items/{item}").json()["quantity"] == 6  # taken once
        # The same key on another pedido's confirm is another request: 422.
        other = api.post(PEDIDOS, json=body, headers=_keyed(uuid.uuid4().hex)).json()
        reused = api.post(f"{PEDIDOS}/{other['id']}/confirm", headers={"Idempotency-Key": key})
        assert reused.status_code == 422
        assert api.get(f"{PEDIDOS}/{other['id']}").json()["status"] == "pending"


def test_optional_keys_on_item_writes_replay_without_writing_again(
    orders_url: str, issuer: TestIssuer
) -> None:
    with _client(orders_url, issuer, tenant=new_tenant()) as api:
        key = uuid.uuid4().hex
        body = item_body()
        created = api.post("/api/v1/items", json=body, headers={"Idempotency-Key": key})
        again = api.post("/api/v1/items", json=body, headers={"Idempotency-Key": key})
        assert (created.status_code, again.status_code) == (201, 201)
        assert again.content == created.content
        assert again.headers["location"] == created.headers["location"]
        assert len(api.get("/api/v1/items").json()["items"]) == 1

        url = created.headers["location"]
        patch_key = uuid.uuid4().hex
        keyed = {"Idempotency-Key": patch_key, "If-Match": created.headers["etag"]}
        patched = api.patch(url, json={"quantity": 7}, headers=keyed)
        replay = api.patch(url, json={"quantity": 7}, headers=keyed)
        assert replay.content == patched.content
        assert replay.headers["idempotent-replayed"] == "true"
        assert api.get(url).json()["version"] == 2  # one change, not two
        # Without a key the write runs as usual.
        assert api.post("/api/v1/items", json=item_body()).status_code == 201


def test_keys_never_replay_for_another_tenant_or_subject(
    orders_url: str, issuer: TestIssuer
) -> None:
    tenant = new_tenant()
    key = uuid.uuid4().hex
    with (
        _client(orders_url, issuer, tenant=tenant, sub="alice") as alice,
        _client(orders_url, issuer, tenant=tenant, sub="bob") as bob,
        _client(orders_url, issuer, tenant=new_tenant(), sub="alice") as alice_elsewhere,
    ):
        item = _new_item(alice)
        body = {"customer_id": "c1", "items": [{"item_id": item, "quantity": 1}]}
        first = alice.post(PEDIDOS, json=body, headers=_keyed(key))
        assert first.status_code == 201
        # Same tenant, same key and body, another subject: its own request, its own pedido.
        bobs = bob.post(PEDIDOS, json=body, headers=_keyed(key))
        assert bobs.status_code == 201
        assert "idempotent-replayed" not in bobs.headers
        assert bobs.json()["id"] != first.json()["id"]
        # Another tenant, same subject and key: the item is not theirs (422), not a replay.
        foreign = alice_elsewhere.post(PEDIDOS, json=body, headers=_keyed(key))
        assert foreign.status_code == 422
        assert foreign.json()["type"].endswith("/invalid-lines")
        assert "idempotent-replayed" not in foreign.headers
        assert _pedido_count(alice) == 2
        assert _pedido_count(alice_elsewhere) == 0
        mine = alice.post(PEDIDOS, json=body, headers=_keyed(key))
        assert mine.content == first.content


def test_rejections_are_not_stored_so_the_key_can_be_retried(
    orders_url: str, issuer: TestIssuer
) -> None:
    tenant = new_tenant()
    key = uuid.uuid4().hex
    with _client(orders_url, issuer, tenant=tenant) as api:
        body = {"customer_id": "c1", "items": [{"item_id": _new_item(api), "quantity": 1}]}
        invalid = api.post(PEDIDOS, json={"customer_id": "c1", "items": []}, headers=_keyed(key))
        assert invalid.status_code == 422
        assert "idempotency" not in invalid.json()["type"]
        viewer = issuer.issue(tenant_id=tenant, sub="user-1", roles=["viewer"])
        forbidden = api.post(
            PEDIDOS, json=body, headers={**_keyed(key), "Authorization": f"Bearer {viewer}"}
        )
        assert forbidden.status_code == 403
        unauthenticated = httpx.post(orders_url + PEDIDOS, json=body, headers=_keyed(key))
        assert unauthenticated.status_code == 401
        # None of those answers was kept: the key runs the real request now.
        created = api.post(PEDIDOS, json=body, headers=_keyed(key))
        assert created.status_code == 201
        assert "idempotent-replayed" not in created.headers
        assert _pedido_count(api) == 1


def test_replays_carry_a_request_id_and_are_counted_on_metrics(
    orders_url: str, issuer: TestIssuer
) -> None:
    with _client(orders_url, issuer, tenant=new_tenant()) as api:
        body = {"customer_id": "c1", "items": [{"item_id": _new_item(api), "quantity": 1}]}
        key = uuid.uuid4().hex
        api.post(PEDIDOS, json=body, headers=_keyed(key))
        before = scrape(orders_url)
        replay = api.post(PEDIDOS, json=body, headers={**_keyed(key), "X-Request-ID": "retry-7"})
        assert replay.headers["idempotent-replayed"] == "true"
        assert replay.headers["x-request-id"] == "retry-7"
        busy_or_not = api.post(PEDIDOS, json=body, headers=_keyed(key))
        assert len(busy_or_not.headers["x-request-id"]) > 0
        after = scrape(orders_url)
    assert (
        value(after, "servicekit_idempotency_replays_total")
        - value(before, "servicekit_idempotency_replays_total")
        == 2
    )
    replayed = "servicekit_idempotency_requests_total"
    assert (
        value(after, replayed, outcome="replayed") - value(before, replayed, outcome="replayed")
        == 2
    )
