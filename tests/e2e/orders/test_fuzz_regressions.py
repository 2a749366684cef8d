"""orders defects the schema fuzzing found (tests/fuzz) that need the real process.

docs/hostile-input.md keeps the list with how each one was fixed.
"""

from __future__ import annotations

import httpx
from jsonschema import Draft202012Validator

from tests.e2e.orders.conftest import ClientFactory


def _documented_problem(client: httpx.Client, path: str) -> Draft202012Validator:
    document = client.get("/openapi.json").json()
    schema = document["paths"][path]["post"]["responses"]["422"]["content"][
        "application/problem+json"
    ]["schema"]
    return Draft202012Validator({**schema, "components": document["components"]})


def test_c2_a_line_error_locates_the_line_with_text_as_every_422_does(
    client_for: ClientFactory,
) -> None:
    """C2: `POST /api/v1/pedidos` naming an item that does not exist answered a 422 whose
    `errors[].loc` held the line index as a number (`["body", "items", 0, "item_id"]`), while
    every other validation problem, and the documented ValidationProblem, has text parts."""
    editor = client_for("editor")
    response = editor.post(
        "/api/v1/pedidos",
        json={
            "customer_id": "c1",
            "items": [{"item_id": "e3e70682-c209-4cac-a29f-6fbed82c07cd", "quantity": 1}],
        },
    )
    assert response.status_code == 422
    body = response.json()
    assert body["errors"][0]["loc"] == ["body", "items", "0", "item_id"]
    assert _documented_problem(editor, "/api/v1/pedidos").is_valid(body)
