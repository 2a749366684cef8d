"""The pedido flow over HTTP: create, add a line, confirm (stock taken), cancel (stock back)."""

from __future__ import annotations

import httpx

from tests.e2e.orders.conftest import ClientFactory, item_body

PROBLEM = "application/problem+json"


def _item(client: httpx.Client, **overrides: object) -> dict[str, object]:
    response = client.post("/api/v1/items", json=item_body(**overrides))
    assert response.status_code == 201, response.text
    item: dict[str, object] = response.json()
    return item


def _stock(client: httpx.Client, item_id: object) -> tuple[int, str]:
    body = client.get(f"/api/v1/items/{item_id}").json()
    return body["quantity"], body["status"]


def test_pedido_create_add_line_confirm_cancel(client_for: ClientFactory) -> None:
    editor, admin = client_for("editor"), client_for("admin")
    mug = _item(editor, quantity=5, price={"amount": "12.50", "currency": "BRL"})
    plate = _item(editor, quantity=3, price={"amount": "40.00", "currency": "BRL"})

    created = editor.post(
        "/api/v1/pedidos",
        json={"customer_id": "cust-42", "items": [{"item_id": mug["id"], "quantity": 2}]},
    )
    assert created.status_code == 201, created.text
    pedido = created.json()
    assert created.headers["location"] == f"/api/v1/pedidos/{pedido['id']}"
    assert pedido["status"] == "pending"
    assert pedido["customer_id"] == "cust-42"
    assert pedido["subtotal"] == {"amount": "25.00", "currency": "BRL"}
    assert pedido["items_count"] == 2
    (line,) = pedido["items"]
    assert line["unit_price"] == {"amount": "12.50", "currency": "BRL"}
    assert line["discount"] == "0.00"

    added = editor.post(
        f"/api/v1/pedidos/{pedido['id']}/items",
        json={"item_id": plate["id"], "quantity": 3, "discount": "10"},
    )
    assert added.status_code == 201, added.text
    body = added.json()
    assert len(body["items"]) == 2
    assert body["subtotal"] == {"amount": "145.00", "currency": "BRL"}
    assert body["total"] == {"amount": "133.00", "currency": "BRL"}  # 25 + 120 * 0.9
    assert body["items_count"] == 5

    confirmed = editor.post(f"/api/v1/pedidos/{pedido['id']}/confirm")
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "confirmed"
    assert _stock(editor, mug["id"]) == (3, "active")
    assert _stock(editor, plate["id"]) == (0, "out_of_stock")

    # Lines are frozen once confirmed; the 409 names the state.
    frozen = editor.post(
        f"/api/v1/pedidos/{pedido['id']}/items", json={"item_id": mug["id"], "quantity": 1}
    )
    assert frozen.status_code == 409
    assert frozen.headers["content-type"] == PROBLEM
    assert frozen.json()["current_status"] == "confirmed"

    cancelled = admin.post(
        f"/api/v1/pedidos/{pedido['id']}/cancel", json={"reason": "customer changed mind"}
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert _stock(editor, mug["id"]) == (5, "active")
    assert _stock(editor, plate["id"]) == (3, "active")

    again = admin.post(f"/api/v1/pedidos/{pedido['id']}/cancel")
    assert again.status_code == 409
    assert again.json()["current_status"] == "cancelled"
    assert "cancelled" in again.json()["detail"]


def test_pedido_walks_to_delivered_and_rejects_skipping(client_for: ClientFactory) -> None:
    editor, admin = client_for("editor"), client_for("admin")
    mug = _item(editor, quantity=4)
    pedido = editor.post(
        "/api/v1/pedidos",
        json={"customer_id": "c1", "items": [{"item_id": mug["id"], "quantity": 1}]},
    ).json()
    url = f"/api/v1/pedidos/{pedido['id']}"

    skipped = editor.post(f"{url}/ship")
    assert skipped.status_code == 409
    assert skipped.json()["current_status"] == "pending"

    for action, status in [
        ("confirm", "confirmed"),
        ("process", "processing"),
        ("ship", "shipped"),
        ("deliver", "delivered"),
    ]:
        response = editor.post(f"{url}/{action}")
        assert response.status_code == 200, (action, response.text)
        assert response.json()["status"] == status
    assert admin.post(f"{url}/cancel").json()["current_status"] == "delivered"
    assert _stock(editor, mug["id"]) == (3, "active")  # delivered: the unit stays sold


def test_removing_a_line_and_confirming_an_empty_pedido(client_for: ClientFactory) -> None:
    editor = client_for("editor")
    mug = _item(editor, quantity=4)
    pedido = editor.post(
        "/api/v1/pedidos",
        json={"customer_id": "c1", "items": [{"item_id": mug["id"], "quantity": 1}]},
    ).json()
    line_id = pedido["items"][0]["id"]
    removed = editor.delete(f"/api/v1/pedidos/{pedido['id']}/items/{line_id}")
    assert removed.status_code == 200
    assert removed.json()["items"] == []
    assert removed.json()["total"] == {"amount": "0.00", "currency": "BRL"}
    assert editor.delete(f"/api/v1/pedidos/{pedido['id']}/items/{line_id}").status_code == 404
    empty = editor.post(f"/api/v1/pedidos/{pedido['id']}/confirm")
    assert empty.status_code == 409
    assert _stock(editor, mug["id"]) == (4, "active")


def test_confirm_with_short_stock_is_409_and_reserves_nothing(client_for: ClientFactory) -> None:
    editor = client_for("editor")
    plenty, scarce = _item(editor, quantity=50), _item(editor, quantity=1)
    pedido = editor.post(
        "/api/v1/pedidos",
        json={
            "customer_id": "c1",
            "items": [
                {"item_id": plenty["id"], "quantity": 5},
                {"item_id": scarce["id"], "quantity": 2},
            ],
        },
    ).json()
    response = editor.post(f"/api/v1/pedidos/{pedido['id']}/confirm")
    assert response.status_code == 409
    problem = response.json()
    assert problem["shortages"] == [
        {"item_id": scarce["id"], "requested": 2, "available": 1, "item_status": "active"}
    ]
    assert _stock(editor, plenty["id"]) == (50, "active")  # nothing partially taken
    assert editor.get(f"/api/v1/pedidos/{pedido['id']}").json()["status"] == "pending"


def test_pedido_needs_active_items_of_the_same_currency(client_for: ClientFactory) -> None:
    editor = client_for("editor")
    brl = _item(editor)
    usd = _item(editor, price={"amount": "3.00", "currency": "USD"})
    sold_out = _item(editor, quantity=0)
    response = editor.post(
        "/api/v1/pedidos",
        json={
            "customer_id": "c1",
            "items": [
                {"item_id": brl["id"], "quantity": 1},
                {"item_id": usd["id"], "quantity": 1},
                {"item_id": sold_out["id"], "quantity": 1},
                {"item_id": "00000000-0000-4000-8000-000000000000", "quantity": 1},
            ],
        },
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    types = [(e["field"], e["type"]) for e in response.json()["errors"]]
    assert types == [
        ("items.1.item_id", "currency_mismatch"),
        ("items.2.item_id", "item_not_active"),
        ("items.3.item_id", "item_not_found"),
    ]
    assert editor.get("/api/v1/pedidos").json()["items"] == []
