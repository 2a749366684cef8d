"""Issue 13, point 7: permission before the key check; prices compared within one currency."""

from __future__ import annotations

import httpx

from tests.e2e.orders.conftest import ClientFactory, item_body

PROBLEM = "application/problem+json"


def test_a_viewer_without_idempotency_key_is_403_not_400(
    client_for: ClientFactory, orders_url: str
) -> None:
    viewer = client_for("viewer")
    # A client without the key-adding hook: the request goes out exactly as written.
    bare = httpx.Client(base_url=orders_url, headers=dict(viewer.headers), timeout=30)
    with bare:
        for path, permission in (
            ("/api/v1/pedidos", "pedidos:create"),
            ("/api/v1/pedidos/00000000-0000-4000-8000-000000000000/confirm", "pedidos:confirm"),
        ):
            response = bare.post(path, json={"customer_id": "c", "items": []})
            assert response.status_code == 403, response.text
            assert response.headers["content-type"] == PROBLEM
            assert response.json()["missing_permission"] == permission
    editor = client_for("editor")
    with httpx.Client(base_url=orders_url, headers=dict(editor.headers), timeout=30) as bare:
        missing = bare.post("/api/v1/pedidos", json={"customer_id": "c", "items": []})
        assert missing.status_code == 400
        assert "Idempotency-Key" in missing.json()["detail"]


def test_price_bounds_and_price_sorting_need_a_currency_and_filter_by_it(
    client_for: ClientFactory,
) -> None:
    editor = client_for("editor")
    brl = editor.post(
        "/api/v1/items", json=item_body(price={"amount": "10.00", "currency": "BRL"})
    ).json()
    usd = editor.post(
        "/api/v1/items", json=item_body(price={"amount": "5.00", "currency": "USD"})
    ).json()
    for query in ("min_price=1", "max_price=100", "sort=price", "sort=-price&limit=5"):
        refused = editor.get(f"/api/v1/items?{query}")
        assert refused.status_code == 422, (query, refused.text)
        assert refused.headers["content-type"] == PROBLEM
        assert "currency" in refused.text
    in_usd = editor.get("/api/v1/items?max_price=100&sort=price&currency=USD").json()["items"]
    assert [item["id"] for item in in_usd] == [usd["id"]]
    in_brl = editor.get("/api/v1/items?currency=BRL").json()["items"]
    assert [item["id"] for item in in_brl] == [brl["id"]]
    assert editor.get("/api/v1/items?currency=XYZ").status_code == 422
    assert editor.get("/api/v1/pedidos?min_total=1").status_code == 422
    assert editor.get("/api/v1/pedidos?min_total=1&currency=BRL").status_code == 200
