"""Schema-driven fuzzing of a running service with schemathesis (v4 Python API).

Each service runs as a real uvicorn process on real PostgreSQL and Redis; its OpenAPI document
is loaded over HTTP, and every operation is exercised in all of schemathesis' phases (the
schema's examples, the coverage phase's boundary and negative cases, random fuzzing in positive
and negative mode) once per caller (anonymous and a token of each role). Every response goes
through schemathesis' built-in checks (no 5xx, status code, content type, headers and body
conform to the document, invalid input is rejected, valid input accepted) and two of ours:

- `errors_are_problem_json`: every 4xx/5xx body is RFC 9457 problem+json, with `status`
  equal to the response's status;
- `protective_headers`: `nosniff` on every answer, no `Server` header, and `Cache-Control` on
  every answer to an authenticated request.

Profiles (`FUZZ_PROFILE`): `ci` (default, bounded so `make test` stays in budget) and `long`
(`make fuzz`).
"""

from __future__ import annotations

import copy
import json
import os
import uuid
from dataclasses import dataclass
from typing import Any

import schemathesis
from schemathesis import Case, CheckContext, GenerationMode, Response
from schemathesis.checks import CheckFunction
from schemathesis.specs.openapi.schemas import OpenApiSchema

PROBLEM = "application/problem+json"
OAUTH_PATHS = frozenset({"/oauth/token", "/oauth/revoke"})
# What schema-valid input may get: schemathesis' defaults. 401/403/404/409 are a caller's
# rights and the data's state, not the input's shape.
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429"]


def _also_accepted(names: list[str], *statuses: str) -> dict[str, Any]:
    """Per-operation config: `statuses` are also right answers to schema-valid input there."""
    return {
        "include-name": names,
        "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, *statuses]}},
    }


# Where the input's shape cannot tell valid from invalid, and why.
OPERATIONS: list[dict[str, Any]] = [
    # RFC 6749 5.2 and RFC 7009 2.2.1: a well-formed request with a wrong grant, credential or
    # token is a 400 (invalid_grant, invalid_request).
    _also_accepted(["POST /oauth/token", "POST /oauth/revoke"], "400"),
    # A cursor is an opaque signed token: no schema can say which strings the server issued.
    # A price bound or price sort without `currency` is a 422 (a dependency between
    # parameters that OpenAPI cannot state).
    _also_accepted(["GET /api/v1/items", "GET /api/v1/pedidos"], "400", "422"),
    _also_accepted(["GET /api/v1/events", "GET /api/v1/users", "GET /api/v1/clients"], "400"),
    # Lines name items by id; an id no item has is a 422 on that line.
    _also_accepted(["POST /api/v1/pedidos", "POST /api/v1/pedidos/{pedido_id}/items"], "422"),
    # If-Match takes any entity tag; one that is not the current version is a 412 (RFC 9110).
    # A value that is not entity-tags (`3` unquoted) is a 400; a quantity without If-Match
    # is 428 (RFC 6585): the schema can tie neither the syntax nor the header to a field.
    _also_accepted(["PATCH /api/v1/items/{item_id}"], "400", "412", "428"),
    _also_accepted(["DELETE /api/v1/items/{item_id}"], "400", "412"),
]

# How these services may refuse invalid input: schemathesis' defaults (without 5xx, which is
# never an acceptable answer to bad input here) plus what servicekit.web.limits answers.
INVALID_INPUT_STATUSES = [
    "400", "401", "403", "404", "405", "406", "409", "412", "413", "414", "415", "422", "428",
    "429", "431",
]  # fmt: skip


@dataclass(frozen=True)
class FuzzProfile:
    max_examples: int  # random cases per operation and caller, in the fuzzing phase
    stateful_steps: int  # steps per state machine run
    stateful_examples: int  # state machine runs


PROFILES = {
    # 15 walks (was 25): the two flow tests took 65-85 s of `make test`'s 10-minute budget;
    # every CI run draws a new seed, so the walks still cover new ground run after run.
    "ci": FuzzProfile(max_examples=15, stateful_steps=12, stateful_examples=15),
    "long": FuzzProfile(max_examples=300, stateful_steps=25, stateful_examples=200),
}


def profile() -> FuzzProfile:
    name = os.environ.get("FUZZ_PROFILE", "ci")
    if name not in PROFILES:
        raise ValueError(f"FUZZ_PROFILE must be one of {sorted(PROFILES)}, not {name!r}")
    return PROFILES[name]


def fuzz_config(*, infer_links: bool = True) -> schemathesis.Config:
    chosen = profile()
    stateful: dict[str, Any] = {"max-steps": chosen.stateful_steps}
    if not infer_links:
        # Explicit links only: inference guesses from names (it reads a pedido's id from
        # the ids of its lines).
        stateful["inference"] = {"algorithms": []}
    return schemathesis.Config.from_dict(
        {
            "generation": {"mode": "all", "max-examples": chosen.max_examples},
            "checks": {
                "negative_data_rejection": {"expected-statuses": INVALID_INPUT_STATUSES},
            },
            "phases": {"stateful": stateful},
            "operations": OPERATIONS,
            "request-timeout": 30,
        }
    )


def schema_from_document(document: dict[str, Any], *, infer_links: bool = True) -> OpenApiSchema:
    """A schemathesis schema for an OpenAPI document, with this run's profile. It works on a
    copy: schemathesis writes the links it infers into the document it is given."""
    config = fuzz_config(infer_links=infer_links)
    return schemathesis.openapi.from_dict(copy.deepcopy(document), config=config)


def _problem_failure(response: Response, why: str) -> AssertionError:
    excerpt = response.content[:300].decode("utf-8", "replace")
    return AssertionError(f"{response.status_code} is not a problem+json ({why}): {excerpt}")


def errors_are_problem_json(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """Every error answer is RFC 9457 problem+json whose `status` is the response's status."""
    if response.status_code < 400:
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    # RFC 6749 5.2: OAuth errors are application/json; auth keeps the problem members in them.
    accepted = {PROBLEM, "application/json"} if case.path in OAUTH_PATHS else {PROBLEM}
    if content_type.split(";")[0].strip() not in accepted:
        raise _problem_failure(response, f"content-type {content_type!r}")
    try:
        body: Any = json.loads(response.content)
    except ValueError:
        raise _problem_failure(response, "body is not JSON") from None
    if not isinstance(body, dict):
        raise _problem_failure(response, "body is not an object")
    if body.get("status") != response.status_code:
        raise _problem_failure(response, "`status` differs from the response status")
    if not isinstance(body.get("title"), str) or not isinstance(body.get("type"), str):
        raise _problem_failure(response, "`type` and `title` must be strings")
    return True


def protective_headers(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """`nosniff` everywhere, no `Server`, and a cache policy on every authenticated answer."""
    headers = response.headers
    if headers.get("x-content-type-options") != ["nosniff"]:
        raise AssertionError("missing `X-Content-Type-Options: nosniff`")
    if "server" in headers:
        raise AssertionError(f"`Server` header present: {headers['server']}")
    sent = response.request.headers
    if "authorization" in {name.lower() for name in sent} and "cache-control" not in headers:
        raise AssertionError("an authenticated answer without `Cache-Control`")
    return True


CUSTOM_CHECKS: list[CheckFunction] = [errors_are_problem_json, protective_headers]


def fresh_idempotency_key(case: Case[Any]) -> None:
    """Give a valid case a key of its own, as real clients do (one key per intended operation).

    Hypothesis draws the same simple keys ("0") again and again; the same key with another
    body is a 422 by design (draft-ietf-httpapi-idempotency-key-header), which would read as
    valid input refused. Cases built to be invalid keep whatever key they were given.
    """
    valid = case.meta is not None and case.meta.generation.mode is GenerationMode.POSITIVE
    if valid and case.headers is not None and "Idempotency-Key" in case.headers:
        case.headers["Idempotency-Key"] = uuid.uuid4().hex


def call_and_validate(case: Case[Any], base_url: str | None, headers: dict[str, str]) -> Response:
    """Send one generated case to `base_url` as `headers`' caller; run every check, built-in
    and ours, on the answer."""
    fresh_idempotency_key(case)
    return case.call_and_validate(
        base_url=base_url, headers=headers, additional_checks=CUSTOM_CHECKS
    )
