"""GET /api/v1/events: tenant-scoped, admin-only, signed cursor pages in feed order (point 5)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.orders.conftest import ClientFactory, item_body
from tests.support.backends import asyncpg_dsn

EVENTS = "/api/v1/events"
# A transaction anywhere on the server holds back the feed until it ends (ADR 0005); the
# shared test server runs other tests' transactions, so reads poll up to this bound.
SETTLE_S = 30.0


def _until(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + SETTLE_S
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {SETTLE_S}s: {what}")
        time.sleep(0.05)


def _all_events(api: httpx.Client, url: str = EVENTS) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    next_url: str | None = url
    while next_url is not None:
        page = api.get(next_url)
        assert page.status_code == 200, page.text
        body = page.json()
        if not body["items"]:
            break
        seen.extend(body["items"])
        next_url = body["next"]
    return seen


def _types(events: list[dict[str, Any]]) -> list[str]:
    return [event["event_type"] for event in events]


def test_two_tenants_each_see_their_own_events_in_order_with_filters_and_paging(
    client_for: ClientFactory,
) -> None:
    tenant_a, tenant_b = f"t-{uuid.uuid4().hex[:12]}", f"t-{uuid.uuid4().hex[:12]}"
    admin_a = client_for("admin", tenant_id=tenant_a)
    admin_b = client_for("admin", tenant_id=tenant_b)
    item = admin_a.post("/api/v1/items", json=item_body(quantity=5)).json()
    pedido = admin_a.post(
        "/api/v1/pedidos",
        json={"customer_id": "c", "items": [{"item_id": item["id"], "quantity": 2}]},
    ).json()
    assert admin_a.post(f"/api/v1/pedidos/{pedido['id']}/confirm").status_code == 200
    other = admin_b.post("/api/v1/items", json=item_body()).json()

    expected = ["ItemCreated", "PedidoCreated", "ItemUpdated", "PedidoConfirmed"]
    events_a = _until(
        lambda: (e := _all_events(admin_a, f"{EVENTS}?limit=1")) and len(e) == 4 and e,
        "tenant A's four events",
    )
    assert _types(events_a) == expected
    assert set(events_a[0]) == {
        "id",
        "event_type",
        "aggregate_type",
        "aggregate_id",
        "occurred_at",
        "payload",
    }
    assert events_a[0]["aggregate_id"] == item["id"]
    assert events_a[1]["aggregate_type"] == "pedido"
    assert events_a[3]["payload"]["reserved"] == [{"item_id": item["id"], "quantity": 2}]
    events_b = _until(lambda: _all_events(admin_b), "tenant B's event")
    assert [(e["event_type"], e["aggregate_id"]) for e in events_b] == [
        ("ItemCreated", other["id"])
    ]

    by_type = _all_events(admin_a, f"{EVENTS}?event_type=ItemUpdated")
    assert [e["aggregate_id"] for e in by_type] == [item["id"]]
    by_aggregate = _all_events(admin_a, f"{EVENTS}?aggregate_id={pedido['id']}")
    assert _types(by_aggregate) == ["PedidoCreated", "PedidoConfirmed"]

    # The last page's `next` is where a poller waits: nothing, then only what is new.
    last = admin_a.get(EVENTS, params={"limit": 100}).json()
    waiting = admin_a.get(last["next"]).json()
    assert waiting["items"] == []
    assert waiting["next"] == last["next"]
    admin_a.post(
        f"/api/v1/items/{item['id']}/stock-adjustments", json={"delta": 1, "reason": "found"}
    )
    new = _until(lambda: admin_a.get(last["next"]).json()["items"], "the adjustment event")
    assert _types(new) == ["ItemStockAdjusted"]
    assert new[0]["payload"]["reason"] == "found"


def test_the_feed_is_for_admins_and_refuses_cursors_it_did_not_sign(
    client_for: ClientFactory,
) -> None:
    for role in ("viewer", "editor"):
        refused = client_for(role).get(EVENTS)
        assert refused.status_code == 403
        assert refused.json()["missing_permission"] == "events:read"
    admin = client_for("admin")
    admin.post("/api/v1/items", json=item_body())
    first = _until(lambda: admin.get(EVENTS, params={"limit": 1}).json()["next"], "a page")
    cursor = httpx.URL(first).params["cursor"]
    items_cursor = httpx.URL(
        admin.get("/api/v1/items", params={"limit": 1}).json()["next"] or "/?cursor=x"
    ).params["cursor"]
    for bad in (cursor[:-2] + "AA", "x", items_cursor, "eyJmZWVkIjpbMSwyXX0"):
        response = admin.get(EVENTS, params={"cursor": bad})
        assert response.status_code == 400, (bad, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    assert admin.get(EVENTS, params={"aggregate_id": "nope"}).status_code == 422


@pytest.fixture
def database_dsn(orders_database_url: str) -> str:
    return asyncpg_dsn(orders_database_url)


def test_an_event_committed_late_is_never_skipped_by_a_poller(
    client_for: ClientFactory, tenant: str, database_dsn: str
) -> None:
    """A transaction that wrote first but commits last: the feed holds back what came after
    it until it ends, then serves it first; a poller's cursor never jumps over it."""
    admin = client_for("admin")
    admin.post("/api/v1/items", json=item_body())
    start = _until(lambda: admin.get(EVENTS).json()["next"], "the first event")

    loop = asyncio.new_event_loop()
    slow = loop.run_until_complete(asyncpg.connect(database_dsn))
    try:
        transaction = slow.transaction()
        loop.run_until_complete(transaction.start())
        loop.run_until_complete(
            slow.execute(
                "INSERT INTO outbox (id, tenant_id, event_type, aggregate_type, aggregate_id, "
                "payload, occurred_at) VALUES ($1, $2, 'ItemUpdated', 'item', $3, $4, now())",
                uuid.uuid4(),
                tenant,
                uuid.uuid4(),
                json.dumps({"late": True}),
            )
        )
        created = admin.post("/api/v1/items", json=item_body()).json()  # committed first
        # What a poller sees meanwhile: nothing past the transaction still open.
        assert admin.get(start).json()["items"] == []
        loop.run_until_complete(transaction.commit())
    finally:
        loop.run_until_complete(slow.close())
        loop.close()
    after = _until(lambda: _all_events(admin, start), "both events")
    assert _types(after) == ["ItemUpdated", "ItemCreated"]
    assert after[0]["payload"] == {"late": True}
    assert after[1]["aggregate_id"] == created["id"]
