"""HTTP plumbing the endpoints share: bounded JSON bodies, responses, next links, OpenAPI."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.responses import Response

from servicekit.problems import ProblemError, problem_type

M = TypeVar("M", bound=BaseModel)

JSON = "application/json"
DEFAULT_MAX_BODY_BYTES = 64 * 1024


def _max_body_bytes(request: Request) -> int:
    settings = request.app.state.resources.settings
    return int(getattr(settings, "max_body_bytes", DEFAULT_MAX_BODY_BYTES))


def _too_large(limit: int) -> ProblemError:
    return ProblemError(
        413,
        title="Content too large",
        detail=f"Request bodies are limited to {limit} bytes.",
        type_=problem_type("body-too-large"),
    )


def _is_json(request: Request) -> bool:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return media == JSON or (media.startswith("application/") and media.endswith("+json"))


async def read_body(request: Request) -> bytes:
    """The raw body, refused with 413 as soon as it passes the limit (never buffered whole)."""
    limit = _max_body_bytes(request)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _require_json(request: Request) -> None:
    if not _is_json(request):
        raise ProblemError(
            415,
            title="Unsupported media type",
            detail="Send the body as application/json.",
            type_=problem_type("unsupported-media-type"),
        )


def parse(model: type[M], raw: bytes) -> M:
    """Validate raw JSON bytes straight into `model` (no intermediate dict).

    Failures become the same 422 problem FastAPI's own validation produces, located under
    `body`; the rejected input is never echoed back.
    """
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = [
            {**error, "loc": ("body", *error["loc"])}
            for error in exc.errors(include_url=False, include_input=False, include_context=False)
        ]
        raise RequestValidationError(errors) from None


async def json_body(request: Request, model: type[M]) -> M:
    """A required JSON body of type `model`."""
    raw = await read_body(request)
    _require_json(request)
    return parse(model, raw)


async def optional_json_body(request: Request, model: type[M]) -> M | None:
    """A JSON body of type `model`, or None when the request has no body at all."""
    raw = await read_body(request)
    if not raw:
        return None
    _require_json(request)
    return parse(model, raw)


def json_response(
    body: bytes, *, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(content=body, status_code=status, media_type=JSON, headers=headers)


def next_link(request: Request, cursor: str | None) -> str | None:
    """The relative URL of the next page: this request's query with the new cursor."""
    if cursor is None:
        return None
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
    params.append(("cursor", cursor))
    return f"{request.url.path}?{urlencode(params)}"


# -- OpenAPI: bodies parsed from raw bytes still appear in the schema -----------------------

_BODY_MODELS: dict[str, type[BaseModel]] = {}


def documented_body(model: type[BaseModel], *, required: bool = True) -> dict[str, Any]:
    """`openapi_extra` for a route that parses `model` itself from the raw body."""
    _BODY_MODELS[model.__name__] = model
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": required, "content": {JSON: {"schema": ref}}}}


def install_body_schemas(app: FastAPI) -> None:
    """Add the schemas `documented_body` refers to into the app's OpenAPI components."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, model in _BODY_MODELS.items():
            body = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for def_name, definition in body.pop("$defs", {}).items():
                components.setdefault(def_name, definition)
            components[name] = body
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override
