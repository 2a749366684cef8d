"""Stateful fuzzing: schemathesis walks explicit OpenAPI links between operations.

The links say how a created resource is used next (create an item, then read, patch, delete
it or order it; create a pedido, then read, extend, confirm, process, ship, deliver or cancel
it). They are added to a copy of the served document, so the fuzzer follows real flows while
the service's own document stays as it is.
"""

from __future__ import annotations

import copy
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any, ClassVar

from hypothesis.errors import FlakyStrategyDefinition
from schemathesis import Case, Response
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.stateful.state_machine import APIStateMachine

from tests.fuzz.harness import CUSTOM_CHECKS

ITEM = "/api/v1/items/{item_id}"
PEDIDO = "/api/v1/pedidos/{pedido_id}"
_ITEM_ID = {"path.item_id": "$response.body#/id"}
_PEDIDO_ID = {"path.pedido_id": "$response.body#/id"}


def _link(method: str, path: str, parameters: dict[str, str], **extra: Any) -> dict[str, Any]:
    pointer = path.replace("~", "~0").replace("/", "~1")
    return {"operationRef": f"#/paths/{pointer}/{method}", "parameters": parameters, **extra}


def _pedido_flow() -> dict[str, dict[str, Any]]:
    return {
        "Read": _link("get", PEDIDO, _PEDIDO_ID),
        "AddLine": _link("post", PEDIDO + "/items", _PEDIDO_ID),
        **{
            step.capitalize(): _link("post", f"{PEDIDO}/{step}", _PEDIDO_ID)
            for step in ("confirm", "process", "ship", "deliver", "cancel")
        },
    }


ORDERS_LINKS: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {
    ("post", "/api/v1/items", "201"): {
        "ReadItem": _link("get", ITEM, _ITEM_ID),
        "PatchItem": _link("patch", ITEM, {**_ITEM_ID, "header.If-Match": "$response.header.ETag"}),
        "DeleteItem": _link("delete", ITEM, _ITEM_ID),
        "OrderItem": _link(
            "post",
            "/api/v1/pedidos",
            {},
            requestBody={
                "customer_id": "fuzz-customer",
                "items": [{"item_id": "$response.body#/id", "quantity": 1}],
            },
        ),
    },
    ("get", ITEM, "200"): {
        "PatchItem": _link("patch", ITEM, {**_ITEM_ID, "header.If-Match": "$response.header.ETag"}),
        "DeleteItem": _link("delete", ITEM, _ITEM_ID),
    },
    ("patch", ITEM, "200"): {"ReadItem": _link("get", ITEM, _ITEM_ID)},
    ("post", "/api/v1/pedidos", "201"): _pedido_flow(),
    ("post", PEDIDO + "/items", "201"): _pedido_flow(),
    **{
        ("post", f"{PEDIDO}/{step}", "200"): _pedido_flow()
        for step in ("confirm", "process", "ship", "deliver", "cancel")
    },
}


def with_links(
    document: dict[str, Any], links: dict[tuple[str, str, str], dict[str, dict[str, Any]]]
) -> dict[str, Any]:
    """A copy of `document` whose responses carry `links` (OpenAPI 3 link objects)."""
    linked = copy.deepcopy(document)
    for (method, path, status), named in links.items():
        response = linked["paths"][path][method]["responses"][status]
        response.setdefault("links", {}).update(named)
    return linked


class HardenedFlows(APIStateMachine):
    """Calls a running service as one caller; every answer goes through our checks too."""

    base_url: ClassVar[str] = ""
    headers: ClassVar[dict[str, str]] = {}
    # (operation, status) of every answer, so a test can tell the walks reached real states.
    seen: ClassVar[Counter[tuple[str, int]]]
    # Failures are collected, not raised: Hypothesis replays a failing walk to report it, and
    # the replay meets a server whose data the walk changed ("flaky strategy"), which would
    # hide the failure. The test raises the first one after the run.
    failures: ClassVar[list[FailureGroup]]

    def after_call(self, response: Response, case: Case[Any]) -> None:
        self.seen[(case.operation.label, response.status_code)] += 1

    def before_call(self, case: Case[Any]) -> None:
        # A fresh key per request: the fuzzer's favourite value ("0") would otherwise replay or
        # conflict with an earlier, unrelated request, which is the idempotency contract working.
        if case.headers is not None and any(
            p.name == "Idempotency-Key" for p in case.operation.headers
        ):
            case.headers["Idempotency-Key"] = uuid.uuid4().hex

    def get_call_kwargs(self, case: Case[Any]) -> dict[str, Any]:
        return {"base_url": self.base_url, "headers": dict(self.headers)}

    def validate_response(
        self,
        response: Response,
        case: Case[Any],
        additional_checks: Any = None,
        **kwargs: Any,
    ) -> None:
        try:
            super().validate_response(response, case, additional_checks=CUSTOM_CHECKS, **kwargs)
        except FailureGroup as failure:
            self.failures.append(failure)


def run_tolerating_changed_data(run: Callable[[], None]) -> bool:
    """Run one suite; False when Hypothesis ended it because a replayed walk met data an earlier
    walk changed (`FlakyStrategyDefinition`). Every other error propagates: a transport error,
    a crash in a rule, or a `FlakyFailure`, which carries an error the first walk raised and
    its replay did not, is a failure of the run, never a reason to try the next suite."""
    try:
        run()
    except FlakyStrategyDefinition:
        return False
    return True
