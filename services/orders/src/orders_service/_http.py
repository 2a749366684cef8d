"""HTTP plumbing the endpoints share: JSON bodies from the request context, responses, next
links, and the OpenAPI customiser for bodies parsed from raw bytes."""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.responses import Response

from servicekit.core.problems import ProblemError, problem_type
from servicekit.web.context import RequestContext, context_of

M = TypeVar("M", bound=BaseModel)

JSON = "application/json"


def _require_json(ctx: RequestContext) -> None:
    if not ctx.is_json:
        raise ProblemError(
            415,
            title="Unsupported media type",
            detail="Send the body as application/json.",
            type_=problem_type("unsupported-media-type"),
        )


async def _body(request: Request) -> tuple[RequestContext, bytes]:
    # Read once, under the one configured cap, by the request limits (servicekit.web.limits);
    # an app without them (a bare test app) reads it here.
    ctx = context_of(request.scope)
    if ctx.body is None:
        ctx.body = await request.body()
    return ctx, ctx.body


def parse(model: type[M], raw: bytes) -> M:
    """Validate raw JSON bytes straight into `model` (no intermediate dict).

    Failures become the same 422 problem FastAPI's own validation produces, located under
    `body`; the rejected input is never echoed back.
    """
    try:
        return model.model_validate_json(raw)
    except RecursionError:  # deeper than any parser limit the limits middleware did not see
        raise RequestValidationError(
            [{"loc": ("body",), "msg": "JSON nested too deeply.", "type": "json_too_deep"}]
        ) from None
    except ValidationError as exc:
        errors = [
            {**error, "loc": ("body", *error["loc"])}
            for error in exc.errors(include_url=False, include_input=False, include_context=False)
        ]
        raise RequestValidationError(errors) from None


async def json_body(request: Request, model: type[M]) -> M:
    """A required JSON body of type `model`."""
    ctx, raw = await _body(request)
    _require_json(ctx)
    return parse(model, raw)


async def optional_json_body(request: Request, model: type[M]) -> M | None:
    """A JSON body of type `model`, or None when the request has no body at all."""
    ctx, raw = await _body(request)
    if not raw:
        return None
    _require_json(ctx)
    return parse(model, raw)


def json_response(
    body: bytes, *, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(content=body, status_code=status, media_type=JSON, headers=headers)


# -- OpenAPI: bodies parsed from raw bytes still appear in the schema -----------------------

_BODY_MODELS: dict[str, type[BaseModel]] = {}


def documented_body(model: type[BaseModel], *, required: bool = True) -> dict[str, Any]:
    """`openapi_extra` for a route that parses `model` itself from the raw body."""
    _BODY_MODELS[model.__name__] = model
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": required, "content": {JSON: {"schema": ref}}}}


def body_schemas(schema: dict[str, Any], _app: FastAPI) -> None:
    """OpenAPI customiser: the schemas `documented_body` refers to, into the components."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, model in _BODY_MODELS.items():
        body = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for def_name, definition in body.pop("$defs", {}).items():
            components.setdefault(def_name, definition)
        components[name] = body
