"""The item flow over HTTP with real tokens: POST, GET, PATCH, DELETE, then 404."""

from __future__ import annotations

from tests.e2e.orders.conftest import ClientFactory, item_body

PROBLEM = "application/problem+json"


def test_item_create_read_update_delete(client_for: ClientFactory) -> None:
    editor, admin = client_for("editor"), client_for("admin")
    created = editor.post("/api/v1/items", json=item_body(sku="MUG-1"))
    assert created.status_code == 201, created.text
    item = created.json()
    assert created.headers["location"] == f"/api/v1/items/{item['id']}"
    assert created.headers["etag"] == '"1"'
    assert item["price"] == {"amount": "12.50", "currency": "BRL"}
    assert item["status"] == "active"
    assert item["version"] == 1

    read = editor.get(created.headers["location"])
    assert read.status_code == 200
    assert read.json() == item
    assert read.headers["etag"] == '"1"'

    patched = editor.patch(
        f"/api/v1/items/{item['id']}",
        json={"name": "Caneca verde", "price": {"amount": "15", "currency": "BRL"}},
        headers={"If-Match": '"1"'},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "Caneca verde"
    assert patched.json()["price"] == {"amount": "15.00", "currency": "BRL"}
    assert patched.json()["version"] == 2
    assert patched.headers["etag"] == '"2"'

    stale = editor.patch(
        f"/api/v1/items/{item['id']}", json={"name": "x"}, headers={"If-Match": '"1"'}
    )
    assert stale.status_code == 412
    assert stale.headers["content-type"] == PROBLEM
    assert editor.get(f"/api/v1/items/{item['id']}").json()["name"] == "Caneca verde"

    deleted = admin.delete(f"/api/v1/items/{item['id']}")
    assert deleted.status_code == 204
    assert deleted.content == b""
    gone = editor.get(f"/api/v1/items/{item['id']}")
    assert gone.status_code == 404
    assert gone.headers["content-type"] == PROBLEM
    assert admin.delete(f"/api/v1/items/{item['id']}").status_code == 404
    # The SKU of a deleted item is free again.
    assert editor.post("/api/v1/items", json=item_body(sku="MUG-1")).status_code == 201
