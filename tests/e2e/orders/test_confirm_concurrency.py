"""Parallel confirms competing for limited stock, against the real process and PostgreSQL."""

from __future__ import annotations

import asyncio
import random

import httpx

from tests.e2e.orders.conftest import ClientFactory, item_body
from tests.support.orders import add_idempotency_key_async
from tests.support.tokens import TestIssuer

KEYED = {"request": [add_idempotency_key_async]}
N_PEDIDOS = 24
INITIAL_STOCK = 20


def _create_pedido(editor: httpx.Client, lines: list[tuple[str, int]]) -> str:
    response = editor.post(
        "/api/v1/pedidos",
        json={"customer_id": "c1", "items": [{"item_id": i, "quantity": q} for i, q in lines]},
    )
    assert response.status_code == 201, response.text
    pedido_id: str = response.json()["id"]
    return pedido_id


async def _confirm_all(base_url: str, token: str, pedido_ids: list[str]) -> list[httpx.Response]:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, timeout=60, event_hooks=KEYED
    ) as client:
        return await asyncio.gather(
            *(client.post(f"/api/v1/pedidos/{pid}/confirm") for pid in pedido_ids)
        )


def test_parallel_confirms_never_oversell(
    client_for: ClientFactory, orders_url: str, issuer: TestIssuer, tenant: str
) -> None:
    editor = client_for("editor")
    item = editor.post("/api/v1/items", json=item_body(quantity=INITIAL_STOCK)).json()
    rng = random.Random(7)
    wanted = {
        _create_pedido(editor, [(item["id"], q)]): q
        for q in (rng.randint(1, 4) for _ in range(N_PEDIDOS))
    }
    assert sum(wanted.values()) > INITIAL_STOCK  # there must be losers

    token = issuer.issue(tenant_id=tenant, roles=["editor"])
    responses = asyncio.run(_confirm_all(orders_url, token, list(wanted)))

    winners = {r.json()["id"] for r in responses if r.status_code == 200}
    losers = [r for r in responses if r.status_code != 200]
    for loser in losers:
        assert loser.status_code == 409, loser.text
        assert loser.json()["type"].endswith("/insufficient-stock")
    sold = sum(wanted[pid] for pid in winners)
    assert sold <= INITIAL_STOCK

    final = editor.get(f"/api/v1/items/{item['id']}").json()
    assert final["quantity"] == INITIAL_STOCK - sold
    # Stock only fell during the race, so each loser asked for more than is left now.
    left = final["quantity"]
    for loser in losers:
        (shortage,) = loser.json()["shortages"]
        assert shortage["requested"] > left
    statuses = {pid: editor.get(f"/api/v1/pedidos/{pid}").json()["status"] for pid in wanted}
    assert {pid for pid, s in statuses.items() if s == "confirmed"} == winners
    assert final["status"] == ("out_of_stock" if left == 0 else "active")


def test_confirms_locking_items_in_opposite_orders_do_not_deadlock(
    client_for: ClientFactory, orders_url: str, issuer: TestIssuer, tenant: str
) -> None:
    """Lines name A then B in half the pedidos and B then A in the others; the locks are
    taken in id order anyway, so no confirm dies of a deadlock (which would be a 500)."""
    editor = client_for("editor")
    a = editor.post("/api/v1/items", json=item_body(quantity=100)).json()["id"]
    b = editor.post("/api/v1/items", json=item_body(quantity=100)).json()["id"]
    pedidos = [
        _create_pedido(editor, [(a, 1), (b, 1)] if n % 2 else [(b, 1), (a, 1)]) for n in range(20)
    ]
    token = issuer.issue(tenant_id=tenant, roles=["admin"])
    responses = asyncio.run(_confirm_all(orders_url, token, pedidos))
    assert [r.status_code for r in responses] == [200] * len(pedidos)

    async def cancel_all() -> list[httpx.Response]:
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            base_url=orders_url, headers=headers, timeout=60, event_hooks=KEYED
        ) as c:
            return await asyncio.gather(
                *(c.post(f"/api/v1/pedidos/{pid}/cancel") for pid in pedidos)
            )

    assert [r.status_code for r in asyncio.run(cancel_all())] == [200] * len(pedidos)
    for item_id in (a, b):
        assert editor.get(f"/api/v1/items/{item_id}").json()["quantity"] == 100


def test_parallel_creates_of_one_sku_leave_exactly_one_item(
    client_for: ClientFactory, orders_url: str, issuer: TestIssuer, tenant: str
) -> None:
    """The read-before-write SKU check can race; the partial unique index decides, and the
    losers get 409, not 500."""
    token = issuer.issue(tenant_id=tenant, roles=["editor"])

    async def create_all() -> list[httpx.Response]:
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            base_url=orders_url, headers=headers, timeout=60, event_hooks=KEYED
        ) as c:
            return await asyncio.gather(
                *(c.post("/api/v1/items", json=item_body(sku="RACE")) for _ in range(12))
            )

    statuses = sorted(r.status_code for r in asyncio.run(create_all()))
    assert statuses == [201] + [409] * 11
    listed = client_for("viewer").get("/api/v1/items").json()["items"]
    assert [item["sku"] for item in listed] == ["RACE"]
