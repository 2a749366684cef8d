"""Lists over HTTP: filters, sorting, and cursor pagination through `next` links."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from tests.e2e.orders.conftest import ClientFactory, item_body


def _all_pages(client: httpx.Client, url: str) -> tuple[list[dict[str, Any]], int]:
    seen: list[dict[str, Any]] = []
    pages = 0
    next_url: str | None = url
    while next_url is not None:
        assert next_url.startswith("/api/v1/")  # relative links
        body = client.get(next_url).json()
        seen.extend(body["items"])
        next_url = body["next"]
        pages += 1
    return seen, pages


def test_paging_visits_every_item_once_in_sort_order(client_for: ClientFactory) -> None:
    editor = client_for("editor")
    prices = [Decimal(p) for p in ("5.00", "1.00", "3.00", "3.00", "9.99", "0.50", "3.00")]
    for n, price in enumerate(prices):
        body = item_body(sku=f"P{n}", price={"amount": str(price), "currency": "BRL"})
        assert editor.post("/api/v1/items", json=body).status_code == 201

    seen, pages = _all_pages(editor, "/api/v1/items?limit=3&sort=price&currency=BRL")
    assert pages == 3
    assert len({item["id"] for item in seen}) == len(prices)
    assert [Decimal(item["price"]["amount"]) for item in seen] == sorted(prices)

    seen_desc, _ = _all_pages(editor, "/api/v1/items?limit=2&sort=-price&currency=BRL")
    assert [Decimal(i["price"]["amount"]) for i in seen_desc] == sorted(prices, reverse=True)

    newest_first, _ = _all_pages(editor, "/api/v1/items?limit=4")
    assert [item["sku"] for item in newest_first] == [f"P{n}" for n in reversed(range(7))]


def test_filters_combine(client_for: ClientFactory) -> None:
    editor = client_for("editor")
    specs = [
        ("A", "kitchen", "10.00", 5, ["blue"], "Caneca azul"),
        ("B", "kitchen", "30.00", 0, ["red"], "Prato vermelho"),
        ("C", "garden", "20.00", 2, ["blue", "sale"], "Vaso azul"),
        ("D", "kitchen", "25.00", 3, ["sale"], "Copo"),
    ]
    for sku, category, amount, quantity, tags, name in specs:
        body = item_body(
            sku=sku,
            category=category,
            price={"amount": amount, "currency": "BRL"},
            quantity=quantity,
            tags=tags,
            name=name,
        )
        assert editor.post("/api/v1/items", json=body).status_code == 201
    item_d = next(i for i in editor.get("/api/v1/items").json()["items"] if i["sku"] == "D")
    editor.patch(f"/api/v1/items/{item_d['id']}", json={"status": "discontinued"})

    def skus(query: str) -> list[str]:
        response = editor.get(f"/api/v1/items?sort=sku&{query}")
        assert response.status_code == 200, response.text
        return [item["sku"] for item in response.json()["items"]]

    assert skus("category=kitchen") == ["A", "B", "D"]
    assert skus("min_price=15&max_price=25&currency=BRL") == ["C", "D"]
    assert skus("available=true") == ["A", "C"]
    assert skus("available=false") == ["B", "D"]
    assert skus("status=out_of_stock") == ["B"]
    assert skus("tag=blue") == ["A", "C"]
    assert skus("q=AZUL") == ["A", "C"]
    assert skus("category=kitchen&available=true") == ["A"]
    assert skus("q=%25") == []  # a literal percent sign matches nothing here


def test_pedido_lists_filter_by_status_customer_and_total(client_for: ClientFactory) -> None:
    editor = client_for("editor")
    item = editor.post(
        "/api/v1/items", json=item_body(price={"amount": "10.00", "currency": "BRL"}, quantity=99)
    ).json()
    ids = {}
    for customer, quantity in [("ana", 1), ("ana", 5), ("bia", 3)]:
        pedido = editor.post(
            "/api/v1/pedidos",
            json={
                "customer_id": customer,
                "items": [{"item_id": item["id"], "quantity": quantity}],
            },
        ).json()
        ids[(customer, quantity)] = pedido["id"]
    editor.post(f"/api/v1/pedidos/{ids[('ana', 5)]}/confirm")

    def found(query: str) -> set[str]:
        response = editor.get(f"/api/v1/pedidos?{query}")
        assert response.status_code == 200, response.text
        return {p["id"] for p in response.json()["items"]}

    assert found("customer_id=ana") == {ids[("ana", 1)], ids[("ana", 5)]}
    assert found("status=confirmed") == {ids[("ana", 5)]}
    assert found("min_total=30.00&currency=BRL") == {ids[("ana", 5)], ids[("bia", 3)]}
    assert found("status=pending&min_total=30&currency=BRL") == {ids[("bia", 3)]}
    seen, pages = _all_pages(editor, "/api/v1/pedidos?limit=1")
    assert pages == 3
    assert {p["id"] for p in seen} == set(ids.values())


def test_etag_conditional_get(client_for: ClientFactory) -> None:
    editor = client_for("editor")
    created = editor.post("/api/v1/items", json=item_body())
    url, etag = created.headers["location"], created.headers["etag"]
    cached = editor.get(url, headers={"If-None-Match": etag})
    assert cached.status_code == 304
    assert cached.headers["etag"] == etag
    editor.patch(url, json={"quantity": 0}, headers={"If-Match": etag})
    fresh = editor.get(url, headers={"If-None-Match": etag})
    assert fresh.status_code == 200
    assert fresh.json()["status"] == "out_of_stock"
    back = editor.patch(url, json={"quantity": 4}, headers={"If-Match": fresh.headers["etag"]})
    assert back.json()["status"] == "active"
    assert editor.patch(url, json={"x": 1}, headers={"If-Match": "*"}).status_code == 422
    assert editor.patch(url, json={"quantity": 5}, headers={"If-Match": "*"}).status_code == 200
    assert editor.patch(url, json={"quantity": 6}, headers={"If-Match": 'W/"4"'}).status_code == 412
