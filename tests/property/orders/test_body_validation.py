"""Bodies validated from raw JSON behave exactly like the same JSON parsed first."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import BaseModel, ValidationError

from orders_service.items.schemas import ItemCreate, ItemUpdate, StockAdjustment
from orders_service.pedidos.schemas import PedidoCancel, PedidoCreate, PedidoLineCreate

# Values near the edges of what each field accepts, plus the wrong JSON types for it.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(
        [
            "",
            " ",
            "12.50",
            "12.505",
            "-1.00",
            "1e3",
            "NaN",
            "BRL",
            "brl",
            "XYZ",
            "JPY",
            "0",
            "100",
            "100.01",
            "00000000-0000-4000-8000-000000000000",
            "not-a-uuid",
            "a" * 70,
        ]
    ),
    st.text(max_size=12),
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["amount", "currency", "x"]), children, max_size=3)
    ),
    max_leaves=6,
)
money = st.fixed_dictionaries(
    {
        "amount": st.sampled_from(["12.50", "0", "9999999999.99", "1.5", "-3", "1.234"]) | scalars,
        "currency": st.sampled_from(["BRL", "USD", "JPY", "XAU", "usd"]) | scalars,
    },
)
line = st.fixed_dictionaries(
    {"item_id": st.uuids().map(str) | scalars, "quantity": st.integers(-2, 3) | scalars},
    optional={
        "discount": st.sampled_from(["10", "100", "100.5", "0.001"]) | scalars,
        "extra": scalars,
    },
)

VALID: dict[str, Any] = {
    "sku": "SKU-1",
    "name": "Mug",
    "description": "",
    "price": {"amount": "12.50", "currency": "BRL"},
    "category": "tools",
    "tags": ["a", "b"],
    "quantity": 3,
    "status": "inactive",
    "customer_id": "c1",
    "items": [{"item_id": "00000000-0000-4000-8000-000000000001", "quantity": 1}],
    "item_id": "00000000-0000-4000-8000-000000000001",
    "discount": "12.5",
    "reason": "changed mind",
}
INVALID: dict[str, st.SearchStrategy[Any]] = {
    "sku": st.sampled_from(["bad sku", "", "-x"]) | scalars,
    "name": st.text(max_size=5) | scalars,
    "description": scalars,
    "price": money | json_values,
    "category": st.sampled_from(["tools", " "]) | scalars,
    "tags": st.lists(st.sampled_from(["a", "a", " b", "c"]) | scalars, max_size=4) | scalars,
    "quantity": st.integers(-2, 2**31) | scalars,
    "status": st.sampled_from(["active", "out_of_stock", "discontinued"]) | scalars,
    "customer_id": st.sampled_from(["c1", "", "c 1"]) | scalars,
    "items": st.lists(line, max_size=3) | json_values,
    "item_id": st.uuids().map(str) | scalars,
    "discount": scalars,
    "reason": scalars,
}


def _value(field: str) -> st.SearchStrategy[Any]:
    # Mostly the valid value, so whole bodies are valid often enough; otherwise anything.
    return st.one_of(st.just(VALID[field]), st.just(VALID[field]), INVALID[field])


def bodies(model: type[BaseModel]) -> st.SearchStrategy[dict[str, Any]]:
    """Any subset of the model's fields with valid or invalid values, sometimes an unknown one.

    Required fields are present in most bodies (a body missing one is invalid for that
    reason alone and would hide every other error).
    """
    required = [f for f, info in model.model_fields.items() if info.is_required()]
    optional = {f: _value(f) for f in model.model_fields if f not in required}
    optional["unknown"] = scalars
    complete = st.fixed_dictionaries({f: _value(f) for f in required}, optional=optional)
    partial = st.fixed_dictionaries({}, optional={**{f: _value(f) for f in required}, **optional})
    return st.one_of(complete, complete, partial)


def _outcome(validate: Any) -> tuple[str, Any]:
    try:
        return "ok", validate().model_dump(mode="json")
    except ValidationError as exc:
        # Messages name types the way the input spelled them ("valid array" for JSON, "valid
        # list" for Python); what an error is and where it is must not depend on the mode.
        return "errors", [(e["type"], e["loc"], e["input"]) for e in exc.errors()]


MODELS = [ItemCreate, ItemUpdate, PedidoCreate, PedidoLineCreate, PedidoCancel]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
@given(data=st.data())
def test_model_validate_json_equals_model_validate_of_json_loads(
    model: type[BaseModel], data: st.DataObject
) -> None:
    """For any JSON object s: model_validate_json(s) and model_validate(json.loads(s)) give the
    same model, or fail with the same errors (same types, locations and inputs)."""
    raw = json.dumps(data.draw(bodies(model)))
    from_json = _outcome(lambda: model.model_validate_json(raw))
    from_python = _outcome(lambda: model.model_validate(json.loads(raw)))
    assert from_json == from_python


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_the_generator_reaches_both_valid_and_invalid_bodies(model: type[BaseModel]) -> None:
    """Guard against a vacuous law: the strategy above must produce both outcomes."""
    seen: set[str] = set()

    @given(body=bodies(model))
    def collect(body: dict[str, Any]) -> None:
        seen.add(_outcome(lambda: model.model_validate_json(json.dumps(body)))[0])

    collect()
    assert seen == {"ok", "errors"}


@given(
    delta=st.one_of(st.integers(min_value=-3, max_value=3), st.integers()),
    reason=st.sampled_from(["restock", "", " ", "a" * 201, "÷", "x\u0000"]),
)
def test_the_stock_adjustment_schema_accepts_exactly_what_validation_accepts(
    delta: int, reason: str
) -> None:
    """The documented schema (what clients and schema fuzzers generate from) and validation
    agree on every stock adjustment: a delta of 0 is refused by both, not only by validation
    (a schema fuzzer found a documented-valid body answered 422)."""
    body = {"delta": delta, "reason": reason}
    documented = Draft202012Validator(StockAdjustment.model_json_schema()).is_valid(body)
    assert documented == (_outcome(lambda: StockAdjustment.model_validate(body))[0] == "ok")
