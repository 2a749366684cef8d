"""Defects the schema fuzzing (tests/fuzz) found, each pinned with its minimal failing input.

docs/hostile-input.md keeps the list with how each one was fixed.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import jsonschema_rs
import pytest
from fastapi import APIRouter, FastAPI
from jsonschema import Draft202012Validator
from pydantic import BaseModel, ValidationError

from auth_service.clients.schemas import ClientCreate
from auth_service.main import create_app as create_auth_app
from auth_service.settings import AuthSettings
from auth_service.users.schemas import UserCreate
from orders_service.items.schemas import ItemCreate, ItemListQuery, ItemUpdate
from orders_service.main import create_app as create_orders_app
from orders_service.pedidos.schemas import PedidoCreate, PedidoLineCreate, PedidoListQuery
from orders_service.settings import OrdersSettings
from servicekit.core.settings import ServiceSettings
from servicekit.web.app import create_service_app
from servicekit.web.idempotency import InvalidKeyError, parse_idempotency_key


def _apps() -> dict[str, FastAPI]:
    return {
        "auth": create_auth_app(AuthSettings(environment="test")),
        "orders": create_orders_app(OrdersSettings(environment="test")),
    }


@pytest.mark.parametrize("service", ["auth", "orders"])
async def test_f1_liveness_is_documented_as_the_media_type_it_sends(service: str) -> None:
    """F1: `GET /health/live` sent `application/health+json` while its OpenAPI documented
    `application/json` (schemathesis ST105, undocumented Content-Type)."""
    app = _apps()[service]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/health/live")
    documented = app.openapi()["paths"]["/health/live"]["get"]["responses"]["200"]["content"]
    assert response.headers["content-type"] == "application/health+json"
    assert list(documented) == ["application/health+json"]
    assert documented["application/health+json"]["schema"]["required"] == ["status"]


async def test_f2_a_405_names_every_method_the_path_serves() -> None:
    """F2: `PUT /api/v1/users` (GET and POST served by two routes) answered 405 with
    `Allow: GET`: Starlette names only the first route matching the path (schemathesis
    ST205, Allow header mismatch)."""
    router = APIRouter()

    @router.get("/things")
    async def list_things() -> list[int]:
        return []

    @router.post("/things")
    async def make_thing() -> int:
        return 1

    @router.delete("/things/{thing_id}")
    async def drop_thing(thing_id: int) -> None:
        return None

    app = create_service_app(
        settings=ServiceSettings(service_name="t"), title="t", version="0", routers=[router]
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        put = await client.put("/things")
        patch = await client.patch("/things/3")
    assert put.status_code == 405
    assert put.headers["content-type"] == "application/problem+json"
    assert put.headers["allow"] == "GET, POST"
    assert patch.headers["allow"] == "DELETE"


URI_REFERENCE = re.compile(r"^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?#]|%[0-9A-Fa-f]{2})*$")


@pytest.mark.parametrize(
    ("sent", "instance"),
    [
        ("/things/%C2%A0%F2%90%A8%AD4", "/things/%C2%A0%F2%90%A8%AD4"),  # the fuzzer's input
        ("/things/a%20b", "/things/a%20b"),
        ("/things/100%25", "/things/100%25"),
        ("/things/(x)", "/things/(x)"),
    ],
)
async def test_f3_problem_instance_is_a_uri_reference(sent: str, instance: str) -> None:
    """F3: `GET /api/v1/users/%C2%A0...` answered a problem whose `instance` was the decoded
    path, holding a no-break space and non-ASCII characters: not the URI reference RFC 9457
    (and the documented Problem schema) require (schemathesis ST108)."""
    app = create_service_app(settings=ServiceSettings(service_name="t"), title="t", version="0")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get(sent)
    assert response.status_code == 404
    body = response.json()
    assert body["instance"] == instance
    assert URI_REFERENCE.match(body["instance"])


# orders: the documented request schemas accept exactly what validation accepts -------------

ORDERS_DOCUMENT: dict[str, Any] = _apps()["orders"].openapi()
ORDERS_BODIES: dict[type[BaseModel], tuple[str, str]] = {
    ItemCreate: ("/api/v1/items", "post"),
    ItemUpdate: ("/api/v1/items/{item_id}", "patch"),
    PedidoCreate: ("/api/v1/pedidos", "post"),
    PedidoLineCreate: ("/api/v1/pedidos/{pedido_id}/items", "post"),
}


def _verdicts(model: type[BaseModel], body: Any) -> tuple[bool, bool]:
    """(the documented schema accepts `body`, the API's validation accepts it)."""
    path, method = ORDERS_BODIES[model]
    operation = ORDERS_DOCUMENT["paths"][path][method]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    schema = {**schema, "components": ORDERS_DOCUMENT["components"]}
    in_python = Draft202012Validator(
        schema, format_checker=Draft202012Validator.FORMAT_CHECKER
    ).is_valid(body)
    # As schemathesis reads it (Rust, ECMA-262 regexes): the two readings must agree.
    assert jsonschema_rs.validator_for(schema, validate_formats=True).is_valid(body) == in_python
    try:
        model.model_validate_json(json.dumps(body))
    except ValidationError:
        return in_python, False
    return in_python, True


ITEM = {"sku": "SKU-1", "name": "Mug", "category": "tools", "quantity": 3}


@pytest.mark.parametrize(
    ("price", "valid"),
    [
        ({"amount": "", "currency": "AAA"}, False),  # the fuzzer's input
        ({"amount": "", "currency": "BRL"}, False),
        ({"amount": "12.50", "currency": "AAA"}, False),
        ({"amount": "1e3", "currency": "BRL"}, False),
        ({"amount": "12.505", "currency": "BRL"}, False),
        ({"amount": "12.50", "currency": "JPY"}, False),
        ({"amount": "12.00", "currency": "JPY"}, True),
        ({"amount": "12.5", "currency": "BRL"}, True),
        ({"amount": "9999999999.99", "currency": "USD"}, True),
    ],
)
def test_o1_the_documented_price_is_the_accepted_price(price: dict[str, str], valid: bool) -> None:
    """O1: `POST /api/v1/items` with `"price": {"amount": "", "currency": "AAA"}` matched the
    documented schema (amount: any string; currency: any three capitals) and got a 422
    (schemathesis ST202, schema-valid request rejected). The schema now lists the accepted
    currencies and the amount's decimal form, per currency; validation accepts that form only."""
    assert _verdicts(ItemCreate, {**ITEM, "price": price}) == (valid, valid)


@pytest.mark.parametrize(
    ("model", "body"),
    [
        (PedidoLineCreate, {"item_id": "952b91db-4f1e-379f-a8b7-a79d68feeac9", "quantity": 2287.0}),
        (ItemCreate, {**ITEM, "price": {"amount": "1", "currency": "BRL"}, "quantity": 0.0}),
    ],
)
def test_o2_an_integral_json_number_is_an_integer(model: type[BaseModel], body: Any) -> None:
    """O2: `POST /api/v1/pedidos/{id}/items` with `"quantity": 2287.0` matched the documented
    `"type": "integer"` (JSON Schema counts 2287.0 as one) and got a 422: strict validation
    refused the float. An integral number is now taken as the integer it is; "5", true and 2.5
    are still refused."""
    assert _verdicts(model, body) == (True, True)
    for wrong in ("5", True, 2.5):
        assert _verdicts(model, {**body, "quantity": wrong}) == (False, False)


def test_o3_a_patch_documents_no_null_since_it_refuses_null() -> None:
    """O3: `PATCH /api/v1/items/{id}` with `{"sku": null, ...}` matched the documented schema
    (every field `anyOf: [..., null]`) and got a 422 (null is not a value of any item field).
    None stays the "omitted" default in code, but the schema no longer offers null."""
    assert _verdicts(ItemUpdate, {"sku": None}) == (False, False)
    assert _verdicts(ItemUpdate, {"status": None}) == (False, False)
    assert _verdicts(ItemUpdate, {}) == (True, True)
    assert _verdicts(ItemUpdate, {"status": "inactive", "quantity": 2}) == (True, True)
    properties = ORDERS_DOCUMENT["components"]["schemas"]["ItemUpdate"]["properties"]
    assert all("default" not in field for field in properties.values())  # no null to copy


@pytest.mark.parametrize(
    ("model", "body"),
    [
        (ItemUpdate, {"description": "\x00"}),  # the fuzzer's input
        (ItemUpdate, {"name": "Mug\x00"}),
        (ItemUpdate, {"tags": ["a\x00b"]}),
        (ItemCreate, {**ITEM, "price": {"amount": "1", "currency": "BRL"}, "category": "\x00x"}),
    ],
)
def test_o4_text_documents_that_nul_is_refused(model: type[BaseModel], body: Any) -> None:
    """O4: `PATCH /api/v1/items/{id}` with `{"description": "\\u0000"}` matched the documented
    schema (any string) and got a 422: PostgreSQL text cannot hold NUL, so every text field
    refuses it. The fields' schemas now say so (a pattern, or an extra one beside their own)."""
    assert _verdicts(model, body) == (False, False)
    clean = json.loads(json.dumps(body).replace("\\u0000", ""))
    assert _verdicts(model, clean) == (True, True)


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({"name": "\x1f"}, False),  # the fuzzer's input
        ({"name": "\ufeff"}, False),
        ({"name": "\x85\u2028"}, False),
        ({"name": " Caneca "}, True),
        ({"tags": ["\x1fa"]}, False),
        ({"tags": ["a\u2028"]}, False),
        ({"tags": ["a\rb"]}, True),
        ({"tags": ["a\nb"]}, False),
        ({"tags": ["caneca azul"]}, True),
    ],
)
def test_o5_blank_means_the_same_to_the_schema_and_to_validation(
    body: dict[str, Any], valid: bool
) -> None:
    """O5: `PATCH /api/v1/items/{id}` with `{"name": "\\x1f"}` was refused by the documented
    schema and accepted by the API: `\\S` is "not whitespace" in both, but Python's re counts
    \\x1c-\\x1f as whitespace and Rust's regex (pydantic) does not, and ECMA-262 (JSON Schema)
    has a third list. The patterns now spell whitespace out, the union of the three lists."""
    assert _verdicts(ItemUpdate, body) == (valid, valid)


LINE = {"item_id": "00000000-0000-4000-8000-000000000001", "quantity": 3}


@pytest.mark.parametrize(
    ("discount", "valid"),
    [
        ("", False),  # the fuzzer's input
        ("100.5", False),
        ("007", False),
        ("1e1", False),
        (12.5, False),
        (True, False),
        (101, False),
        ("12.5", True),
        ("100.00", True),
        (10, True),
        (10.0, True),
    ],
)
def test_o6_the_documented_discount_is_the_accepted_discount(discount: Any, valid: bool) -> None:
    """O6: `POST /api/v1/pedidos/{id}/items` with `"discount": ""` matched the documented
    schema (`anyOf: [number 0..100, any string]`) and got a 422. A discount is now a whole
    number 0..100 or decimal text with at most two decimals, in the schema and in validation
    alike (a fractional JSON number such as 12.5 is refused: send "12.5")."""
    assert _verdicts(PedidoLineCreate, {**LINE, "discount": discount}) == (valid, valid)


def _query_verdicts(path: str, model: type[BaseModel], name: str, value: str) -> tuple[bool, bool]:
    """(the documented query parameter accepts `value`, the API's validation accepts it)."""
    parameters = ORDERS_DOCUMENT["paths"][path]["get"]["parameters"]
    schema = next(p["schema"] for p in parameters if p["name"] == name)
    documented = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    try:
        # A price bound is only accepted with a currency (amounts of two do not compare).
        model.model_validate({name: value, "currency": "BRL"})
    except ValidationError:
        return documented.is_valid(value), False
    return documented.is_valid(value), True


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("", False),  # the fuzzer's input
        ("abc", False),
        ("1e3", False),
        ("-1", False),
        ("12.505", False),
        ("12.5", True),
        ("0", True),
        ("9999999999.99", True),
    ],
)
@pytest.mark.parametrize(
    ("path", "model", "name"),
    [
        ("/api/v1/items", ItemListQuery, "min_price"),
        ("/api/v1/items", ItemListQuery, "max_price"),
        ("/api/v1/pedidos", PedidoListQuery, "min_total"),
    ],
)
def test_o7_a_price_bound_in_a_query_is_documented_as_the_text_it_is(
    path: str, model: type[BaseModel], name: str, value: str, valid: bool
) -> None:
    """O7: `GET /api/v1/items?max_price=` (empty) matched the documented parameter (`anyOf:
    [number, any string]`) and got a 422. A query value is text: the bounds are documented and
    validated as plain decimal text, like amounts."""
    assert _query_verdicts(path, model, name, value) == (valid, valid)


async def test_s1_an_unhandled_error_still_carries_the_security_headers() -> None:
    """S1: the 500 of A1 came without `X-Content-Type-Options: nosniff`: Starlette answers an
    unhandled error from its outermost middleware, outside the security-headers middleware."""
    router = APIRouter()

    @router.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    app = create_service_app(
        settings=ServiceSettings(service_name="t"), title="t", version="0", routers=[router]
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/boom", headers={"Authorization": "Bearer x"})
    assert response.status_code == 500
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"


# auth ----------------------------------------------------------------------------------------

AUTH_DOCUMENT: dict[str, Any] = _apps()["auth"].openapi()


@pytest.mark.parametrize(
    ("email", "valid"),
    [
        ("\u00d5\u00b3@\x1c\x16\x8b.\u00d0\x06\u00acG\x85C", False),  # the fuzzer's input
        ("a@b\x85c.de", False),
        ("a@b\x1cc.de", False),
        ("a@b\ufeffc.de", False),
        (" a@b.co", False),
        ("a@b.co ", False),
        ("A.B@Example.COM", True),
        ("\u00d5\u00b3@ex\u00e4mple.de", True),
        # A7: the fuzzer's input, then smaller: a NUL reached PostgreSQL (500)
        ('"C\u00de@\u00e7\x00\u00df\u00e3.\u00a6', False),
        ("a@b\x00.co", False),
        ("a\x00@b.co", False),
    ],
)
def test_a6_every_regex_engine_reads_the_email_pattern_alike(email: str, valid: bool) -> None:
    """A6: `POST /api/v1/users` with an email holding \\x85 matched the document (for ECMA-262,
    \\x85 is not whitespace) and got a 422 (for Rust's regex, which pydantic runs, it is). The
    pattern now spells whitespace out (servicekit.core.patterns), and emails are no longer stripped
    (engines strip differently too): the schema in Python's re and in Rust (jsonschema-rs, as
    schemathesis reads it) and the API's validation give one verdict."""
    schema = {
        "$ref": "#/components/schemas/UserCreate",
        "components": AUTH_DOCUMENT["components"],
    }
    body = {"email": email, "password": "p" * 12, "roles": ["viewer"]}
    in_python = Draft202012Validator(schema).is_valid(body)
    in_rust = jsonschema_rs.validator_for(schema).is_valid(body)
    try:
        UserCreate.model_validate(body)
        accepted = True
    except ValidationError:
        accepted = False
    assert (in_python, in_rust, accepted) == (valid, valid, valid)


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("\x95\x00\u00c7", False),  # the fuzzer's input
        ("a\x00b", False),
        ("   ", False),
        (" billing ", False),
        ("billing\nexport", False),
        ("billing export", True),
        ("\u00c7a\u00e7a", True),
    ],
)
def test_a8_a_client_name_is_documented_as_validated(name: str, valid: bool) -> None:
    """A8: `POST /api/v1/clients` with `"name": "\\u0095\\u0000\\u00c7"` answered 500: a NUL
    reached PostgreSQL. The name was also stripped after validation, so "   " matched the
    document (minLength 1) and was refused. A name now has a pattern: no NUL, no spaces around;
    the schema (read as Python and as schemathesis read it) and validation agree."""
    schema = {
        "$ref": "#/components/schemas/ClientCreate",
        "components": AUTH_DOCUMENT["components"],
    }
    body = {"name": name, "roles": ["viewer"]}
    in_python = Draft202012Validator(schema).is_valid(body)
    in_rust = jsonschema_rs.validator_for(schema).is_valid(body)
    try:
        ClientCreate.model_validate(body)
        accepted = True
    except ValidationError:
        accepted = False
    assert (in_python, in_rust, accepted) == (valid, valid, valid)


@pytest.mark.parametrize(
    ("key", "valid"),
    [
        ("k\u00e9y!", False),  # the fuzzer sent keys outside the charset, any string of 1-255
        ("a" * 256, False),
        ('"abc', False),
        ('""', False),
        ("a b", False),
        ("0", True),
        (" abc\t", True),
        ('"abc"', True),
        ("a" * 255, True),
        ("Zm9vYmFy+/=", True),
    ],
)
def test_c1_the_documented_idempotency_key_is_the_accepted_key(key: str, valid: bool) -> None:
    """C1: `POST /api/v1/items` with an Idempotency-Key of any 1-255 characters matched the
    documented header (`minLength: 1, maxLength: 255`) and got a 400: the server takes a bare
    or quoted token of `A-Z a-z 0-9 - _ . : ~ + / =`. The header schema now has that pattern,
    built from the parser's own character class."""
    parameters = ORDERS_DOCUMENT["paths"]["/api/v1/pedidos"]["post"]["parameters"]
    schema = next(p["schema"] for p in parameters if p["name"] == "Idempotency-Key")
    in_python = Draft202012Validator(schema).is_valid(key)
    in_rust = jsonschema_rs.validator_for(schema).is_valid(key)
    try:
        parse_idempotency_key(key.encode("latin-1", "replace"))
        accepted = True
    except InvalidKeyError:
        accepted = False
    assert (in_python, in_rust, accepted) == (valid, valid, valid)
