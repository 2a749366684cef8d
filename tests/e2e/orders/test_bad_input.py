"""Bad input is a 4xx problem+json naming what is wrong, never a 500 and never a write."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.orders.conftest import ClientFactory, item_body
from tests.support.ids import new_tenant

# Parameters are fixed (not uuid4()): pytest-xdist's workers must collect the same test ids.
UNKNOWN_ID = "00000000-0000-4000-8000-00000000dead"

PROBLEM = "application/problem+json"


def _problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, object] = response.json()
    assert body["status"] == status
    return body


def _fields(problem: dict[str, object]) -> set[str]:
    errors = problem["errors"]
    assert isinstance(errors, list)
    return {error["field"] for error in errors}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"price": {"amount": "-1.00", "currency": "BRL"}}, "price.amount"),
        ({"price": {"amount": "12.505", "currency": "BRL"}}, "price.amount"),
        ({"price": {"amount": 12.5, "currency": "BRL"}}, "price.amount"),
        ({"price": {"amount": "NaN", "currency": "BRL"}}, "price.amount"),
        ({"price": {"amount": "12.50", "currency": "XYZ"}}, "price.currency"),
        ({"price": {"amount": "12.50", "currency": "brl"}}, "price.currency"),
        ({"price": {"amount": "12.50", "currency": "BRL", "rate": 1}}, "price.rate"),
        ({"price": {"amount": "12.50", "currency": "JPY"}}, "price"),
        ({"quantity": -1}, "quantity"),
        ({"quantity": "5"}, "quantity"),
        ({"sku": "has space"}, "sku"),
        ({"name": "   "}, "name"),
        ({"tags": ["ok", ""]}, "tags.1"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_item_create_rejects(
    client_for: ClientFactory, overrides: dict[str, object], field: str
) -> None:
    editor = client_for("editor")
    problem = _problem(editor.post("/api/v1/items", json=item_body(**overrides)), 422)
    assert field in _fields(problem)
    assert editor.get("/api/v1/items").json()["items"] == []  # nothing was written


def test_item_patch_rejects_null_unknown_fields_and_derived_status(
    client_for: ClientFactory,
) -> None:
    editor = client_for("editor")
    item = editor.post("/api/v1/items", json=item_body()).json()
    url = f"/api/v1/items/{item['id']}"
    assert "name" in _fields(_problem(editor.patch(url, json={"name": None}), 422))
    assert "colour" in _fields(_problem(editor.patch(url, json={"colour": "x"}), 422))
    assert "status" in _fields(_problem(editor.patch(url, json={"status": "out_of_stock"}), 422))
    assert editor.get(url).json()["version"] == 1


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ({"quantity": 0}, "items.0.quantity"),
        ({"quantity": -3}, "items.0.quantity"),
        ({"quantity": 1, "discount": "100.01"}, "items.0.discount"),
        ({"quantity": 1, "discount": "-1"}, "items.0.discount"),
        ({"quantity": 1, "item_id": "not-a-uuid"}, "items.0.item_id"),
        ({"quantity": 1, "gift": True}, "items.0.gift"),
    ],
)
def test_pedido_create_rejects(
    client_for: ClientFactory, line: dict[str, object], field: str
) -> None:
    editor = client_for("editor")
    item = editor.post("/api/v1/items", json=item_body()).json()
    body = {"customer_id": "c1", "items": [{"item_id": item["id"], **line}]}
    assert field in _fields(_problem(editor.post("/api/v1/pedidos", json=body), 422))
    assert editor.get("/api/v1/pedidos").json()["items"] == []


def test_pedido_with_no_lines_is_422(client_for: ClientFactory) -> None:
    editor = client_for("editor")
    problem = _problem(editor.post("/api/v1/pedidos", json={"customer_id": "c", "items": []}), 422)
    assert "items" in _fields(problem)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/items/not-a-uuid"),
        ("PATCH", "/api/v1/items/123"),
        ("DELETE", "/api/v1/items/zzz"),
        ("GET", "/api/v1/pedidos/not-a-uuid"),
        ("POST", "/api/v1/pedidos/not-a-uuid/confirm"),
        ("DELETE", f"/api/v1/pedidos/{UNKNOWN_ID}/items/nope"),
    ],
)
def test_malformed_uuid_in_the_path_is_422(
    client_for: ClientFactory, method: str, path: str
) -> None:
    response = client_for("admin").request(method, path, json={})
    assert _fields(_problem(response, 422)) & {"item_id", "pedido_id", "line_id"}


def test_oversized_body_is_413_and_nothing_is_written(client_for: ClientFactory) -> None:
    editor = client_for("editor")
    body = item_body(description="x" * (70 * 1024))
    _problem(editor.post("/api/v1/items", json=body), 413)
    assert editor.get("/api/v1/items").json()["items"] == []


def test_oversized_chunked_body_is_413(client_for: ClientFactory) -> None:
    editor = client_for("editor")

    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b"x" * 1024

    response = editor.post(
        "/api/v1/items", content=chunks(), headers={"Content-Type": "application/json"}
    )
    _problem(response, 413)


def test_malformed_json_non_json_and_empty_bodies(client_for: ClientFactory) -> None:
    editor = client_for("editor")
    json_header = {"Content-Type": "application/json"}
    bad = _problem(editor.post("/api/v1/items", content=b'{"sku": ', headers=json_header), 422)
    assert bad["errors"]
    _problem(editor.post("/api/v1/items", content=b"", headers=json_header), 422)
    _problem(editor.post("/api/v1/items", json=[1, 2]), 422)
    _problem(
        editor.post("/api/v1/items", content=b"sku=x", headers={"Content-Type": "text/plain"}),
        415,
    )


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=101",
        "min_price=-1",
        "min_price=abc",
        "status=sold",
        "sort=colour",
        "available=perhaps",
        "colour=blue",
    ],
)
def test_bad_list_parameters_are_422(client_for: ClientFactory, query: str) -> None:
    _problem(client_for("viewer").get(f"/api/v1/items?{query}"), 422)


@pytest.mark.parametrize("cursor", ["garbage", "eyJzIjoiLWNyZWF0ZWRfYXQifQ", "A" * 2000])
def test_a_forged_cursor_is_400_or_422(client_for: ClientFactory, cursor: str) -> None:
    response = client_for("viewer").get("/api/v1/items", params={"cursor": cursor})
    assert response.status_code in (400, 422)
    assert response.headers["content-type"] == PROBLEM


def test_a_cursor_for_another_sort_is_400(client_for: ClientFactory) -> None:
    editor = client_for("editor")
    for _ in range(3):
        editor.post("/api/v1/items", json=item_body())
    first = editor.get(
        "/api/v1/items", params={"limit": 1, "sort": "price", "currency": "BRL"}
    ).json()
    cursor = httpx.URL(first["next"]).params["cursor"]
    response = editor.get("/api/v1/items", params={"limit": 1, "sort": "name", "cursor": cursor})
    _problem(response, 400)


def test_a_sku_already_live_in_the_tenant_is_409(client_for: ClientFactory) -> None:
    editor = client_for("editor")
    assert editor.post("/api/v1/items", json=item_body(sku="DUP")).status_code == 201
    _problem(editor.post("/api/v1/items", json=item_body(sku="DUP")), 409)
    other = editor.post("/api/v1/items", json=item_body(sku="OTHER")).json()
    _problem(editor.patch(f"/api/v1/items/{other['id']}", json={"sku": "DUP"}), 409)
    # Another tenant may use the same SKU.
    stranger = client_for("editor", tenant_id=new_tenant())
    assert stranger.post("/api/v1/items", json=item_body(sku="DUP")).status_code == 201


def test_nul_characters_are_422_not_a_database_error(client_for: ClientFactory) -> None:
    editor = client_for("editor")
    problem = _problem(editor.post("/api/v1/items", json=item_body(name="mug\x00")), 422)
    assert "name" in _fields(problem)
    problem = _problem(editor.post("/api/v1/items", json=item_body(tags=["a\x00"])), 422)
    assert "tags.0" in _fields(problem)
    for query in ("q=%00", "category=a%00", "tag=%00x"):
        _problem(editor.get(f"/api/v1/items?{query}"), 422)
