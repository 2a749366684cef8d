"""Odd but possible input over real HTTP is a 4xx problem, never a 500 (issue 13, point 2).

If-Match values that are not entity-tags, If-None-Match: *, and list cursors that this
service did not sign (forged, tampered, or with values the database would choke on).
"""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from tests.e2e.orders.conftest import ClientFactory, item_body

PROBLEM = "application/problem+json"


def _new_item(editor: httpx.Client) -> dict[str, object]:
    created = editor.post("/api/v1/items", json=item_body())
    assert created.status_code == 201, created.text
    item: dict[str, object] = created.json()
    return item


@pytest.mark.parametrize("value", [b'"\xc2\xb2"', b'"\xb2"', b'"\xd9\xa3"', b'W/"1"', b'"abc"'])
def test_a_well_formed_if_match_that_is_not_ours_is_412(
    client_for: ClientFactory, value: bytes
) -> None:
    editor = client_for("editor")
    item = _new_item(editor)
    response = editor.patch(
        f"/api/v1/items/{item['id']}", json={"name": "x"}, headers={b"If-Match": value}
    )
    assert response.status_code == 412, response.text
    assert response.headers["content-type"] == PROBLEM


@pytest.mark.parametrize("value", ["3", "1", '"1', "W/1", '"1" "2"', "**"])
def test_an_if_match_that_is_not_entity_tags_is_400_naming_the_syntax(
    client_for: ClientFactory, value: str
) -> None:
    editor = client_for("admin")
    item = _new_item(editor)
    for method in ("PATCH", "DELETE"):
        response = editor.request(
            method,
            f"/api/v1/items/{item['id']}",
            json={"name": "x"} if method == "PATCH" else None,
            headers={"If-Match": value},
        )
        assert response.status_code == 400, (method, value, response.text)
        assert response.headers["content-type"] == PROBLEM
        assert "entity-tag" in response.json()["detail"]
    # Nothing changed.
    assert editor.get(f"/api/v1/items/{item['id']}").json()["version"] == item["version"]


def test_if_none_match_star_on_an_existing_item_is_304(client_for: ClientFactory) -> None:
    editor = client_for("editor")
    item = _new_item(editor)
    response = editor.get(f"/api/v1/items/{item['id']}", headers={"If-None-Match": "*"})
    assert response.status_code == 304
    assert response.headers["etag"] == '"1"'
    missing = editor.get(
        "/api/v1/items/00000000-0000-4000-8000-000000000000", headers={"If-None-Match": "*"}
    )
    assert missing.status_code == 404


def _b64(payload: dict[str, object]) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_cursors_are_signed_and_any_that_does_not_verify_is_400(
    client_for: ClientFactory,
) -> None:
    editor = client_for("editor")
    for _ in range(3):
        _new_item(editor)
    first = editor.get("/api/v1/items", params={"limit": 1}).json()
    next_url = first["next"]
    assert next_url is not None
    cursor = httpx.URL(next_url).params["cursor"]
    assert editor.get(next_url).status_code == 200

    row_id = first["items"][0]["id"]
    forged = [
        # The repository's plain format, unsigned (what cursors were before).
        _b64({"s": "-created_at", "v": "2026-01-01T00:00:00+00:00", "id": row_id}),
        _b64({"s": "-created_at", "v": "1e1000000", "id": row_id}),
        _b64({"s": "-created_at", "v": "0001-01-01T00:00:00+14:00", "id": row_id}),
        # Signed shapes with a forged payload or a changed MAC.
        _b64({"s": "-created_at", "v": "0001-01-01T00:00:00+14:00", "id": row_id})
        + cursor[cursor.rindex(".") :],
        cursor[:-1] + ("A" if cursor[-1] != "A" else "B"),
        cursor + "x",
        ".",
        "x." + "A" * 43,
    ]
    for bad in forged:
        response = editor.get("/api/v1/items", params={"limit": 1, "cursor": bad})
        assert response.status_code == 400, (bad, response.text)
        assert response.headers["content-type"] == PROBLEM
    # Pedido lists verify the same way.
    response = client_for("admin").get("/api/v1/pedidos", params={"cursor": forged[2]})
    assert response.status_code == 400, response.text
