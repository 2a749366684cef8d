"""Stock writes that cannot undo each other (issue 13, point 3).

An absolute `quantity` in PATCH needs If-Match (428 without), so it can no longer silently
undo a confirm's decrement; relative changes go through POST .../stock-adjustments, which
needs no precondition and never takes the stock below zero.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.e2e.orders.conftest import ClientFactory, item_body

PROBLEM = "application/problem+json"


def _item(api: httpx.Client, quantity: int) -> tuple[str, str]:
    created = api.post("/api/v1/items", json=item_body(quantity=quantity))
    assert created.status_code == 201, created.text
    return created.headers["location"], created.headers["etag"]


def test_patching_quantity_without_if_match_is_428_and_changes_nothing(
    client_for: ClientFactory,
) -> None:
    editor = client_for("editor")
    url, etag = _item(editor, 10)
    refused = editor.patch(url, json={"quantity": 15, "name": "x"})
    assert refused.status_code == 428, refused.text
    assert refused.headers["content-type"] == PROBLEM
    assert "If-Match" in refused.json()["detail"]
    assert editor.get(url).json()["quantity"] == 10
    # Other fields need no precondition; quantity with the current ETag goes through.
    assert editor.patch(url, json={"name": "y"}).status_code == 200
    current = editor.get(url).headers["etag"]
    assert (
        editor.patch(url, json={"quantity": 15}, headers={"If-Match": current}).json()["quantity"]
        == 15
    )
    assert etag != current


def test_the_patch_race_a_confirm_in_between_is_never_undone(client_for: ClientFactory) -> None:
    """A client reads quantity 10, a pedido takes 3, the client writes 12 (meaning +2 on what
    it saw): with the ETag it read, its write is refused (412) and the stock stays 7."""
    admin = client_for("admin")
    url, etag_read = _item(admin, 10)
    item_id = url.rsplit("/", 1)[1]
    pedido = admin.post(
        "/api/v1/pedidos",
        json={"customer_id": "c", "items": [{"item_id": item_id, "quantity": 3}]},
    ).json()
    assert admin.post(f"/api/v1/pedidos/{pedido['id']}/confirm").status_code == 200

    stale = admin.patch(url, json={"quantity": 12}, headers={"If-Match": etag_read})
    assert stale.status_code == 412, stale.text
    assert admin.patch(url, json={"quantity": 12}).status_code == 428
    assert admin.get(url).json()["quantity"] == 7
    # The relative way says what the client meant.
    adjusted = admin.post(f"{url}/stock-adjustments", json={"delta": 2, "reason": "recount"})
    assert adjusted.status_code == 200, adjusted.text
    assert adjusted.json()["quantity"] == 9


def test_concurrent_patches_with_one_etag_let_exactly_one_through(
    client_for: ClientFactory,
) -> None:
    editor = client_for("editor")
    url, etag = _item(editor, 10)

    def patch(quantity: int) -> int:
        return editor.patch(
            url, json={"quantity": quantity}, headers={"If-Match": etag}
        ).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(patch, range(20, 28)))
    assert statuses == [200] + [412] * 7
    assert editor.get(url).json()["version"] == 2


def test_adjustments_never_oversell_under_concurrency(client_for: ClientFactory) -> None:
    editor = client_for("editor")
    url, _ = _item(editor, 5)
    editor.get(url)  # cached: the answers below must see every adjustment

    def take_one(_: int) -> int:
        return editor.post(
            f"{url}/stock-adjustments", json={"delta": -1, "reason": "breakage"}
        ).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(take_one, range(9)))
    assert statuses == [200] * 5 + [409] * 4
    item = editor.get(url).json()
    assert item["quantity"] == 0
    assert item["status"] == "out_of_stock"
    assert item["version"] == 6

    refused = editor.post(f"{url}/stock-adjustments", json={"delta": -1, "reason": "x"})
    assert refused.status_code == 409
    assert refused.headers["content-type"] == PROBLEM


def test_adjustment_validation_permission_and_key(client_for: ClientFactory) -> None:
    editor = client_for("editor")
    url, _ = _item(editor, 5)
    for body in (
        {"delta": 0, "reason": "x"},
        {"delta": "1", "reason": "x"},
        {"delta": 1.5, "reason": "x"},
        {"delta": 1},
        {"delta": 1, "reason": ""},
        {"delta": 1, "reason": "x", "extra": 1},
        {"delta": 10**12, "reason": "x"},
    ):
        response = editor.post(f"{url}/stock-adjustments", json=body)
        assert response.status_code == 422, (body, response.text)
    assert (
        client_for("viewer")
        .post(f"{url}/stock-adjustments", json={"delta": 1, "reason": "x"})
        .status_code
        == 403
    )
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = editor.post(f"{url}/stock-adjustments", json={"delta": 3, "reason": "x"}, headers=key)
    again = editor.post(f"{url}/stock-adjustments", json={"delta": 3, "reason": "x"}, headers=key)
    assert first.status_code == again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert editor.get(url).json()["quantity"] == 8
    missing = url.rsplit("/", 1)[0] + f"/{uuid.uuid4()}/stock-adjustments"
    assert editor.post(missing, json={"delta": 1, "reason": "x"}).status_code == 404
