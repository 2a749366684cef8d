"""API docs served by the service itself, and the OpenAPI parts every service shares.

- Swagger UI at `/docs` and ReDoc at `/redoc`, their scripts and styles under `/docs/assets/`
  from the `fastapi-offline` wheel (locked in uv.lock): no CDN, no web font, no validator
  badge, so a cluster without internet shows them.
- The schema declares the bearer scheme (`bearerAuth`, a JWT), answers every error as
  `application/problem+json` (RFC 9457), and documents `Idempotency-Key` on the routes that
  mark themselves with `openapi_extra=idempotency_key(required=...)`.

Routes that need a token declare it (`servicekit.web.security.requires`); the security customiser
lists `bearerAuth` in their `security` with 401 and 403, and they become problems here.
"""

from __future__ import annotations

import copy
import importlib.util
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.openapi.utils import get_openapi
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

from servicekit.core.problems import PROBLEM_CONTENT_TYPE
from servicekit.web.idempotency import KEY_HEADER_PATTERN
from servicekit.web.security import BEARER_SCHEME

ASSETS_PATH = "/docs/assets"
# The docs pages may load only from this service. ReDoc's side menu links an image on
# Redocly's CDN whatever its options say; this policy keeps the browser from asking for it
# (ReDoc then hides the image), so no docs page makes a request beyond the service.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
# Changes a generated schema in place; create_service_app runs its list once, in order.
OpenAPICustomiser = Callable[[dict[str, Any], FastAPI], None]

_PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details",
    "type": "object",
    "properties": {
        "type": {"type": "string", "format": "uri-reference", "default": "about:blank"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 100, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string", "format": "uri-reference"},
    },
    "required": ["type", "title", "status"],
    "additionalProperties": True,
}
_VALIDATION_PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "ValidationProblem",
    "description": "RFC 9457 problem details listing each invalid field",
    "allOf": [
        {"$ref": "#/components/schemas/Problem"},
        {
            "type": "object",
            "properties": {
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "loc": {"type": "array", "items": {"type": "string"}},
                            "field": {"type": "string"},
                            "msg": {"type": "string"},
                            "type": {"type": "string"},
                        },
                        "required": ["loc", "field", "msg", "type"],
                    },
                }
            },
        },
    ],
}


def _problem(description: str, schema: str = "Problem") -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


IDEMPOTENCY_HEADER = "Idempotency-Key"
_REPLAY_HEADERS = ("Idempotent-Replayed", "X-Idempotent-Replayed")
_RETRY_AFTER = {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}


def idempotency_key(*, required: bool) -> dict[str, Any]:
    """`openapi_extra` for a route that honours `Idempotency-Key`
    (draft-ietf-httpapi-idempotency-key-header): the header, its behaviour and its errors.

    `document_idempotency(app, ttl_s=..., lock_ttl_s=...)` adds the configured lifetimes to
    the description; the generated schema also declares the replay headers on the route's
    success responses.
    """
    presence = (
        "Required: a request without it is answered 400 and not processed."
        if required
        else "Optional: without it the request is processed as usual, with no replay."
    )
    return {
        "parameters": [
            {
                "name": IDEMPOTENCY_HEADER,
                "in": "header",
                "required": required,
                "description": (
                    "A unique key per intended operation, as a bare token or a quoted string "
                    "(1-255 characters of `A-Z a-z 0-9 - _ . : ~ + / =`). "
                    f"{presence} "
                    "The key is scoped to the caller's tenant and subject, the method and this "
                    "route: another caller's identical key is a different key. The first "
                    "request runs and its answer (status, body, `Location`, `ETag`, "
                    "`Content-Type`) is stored; a retry with the same key and the same request "
                    "(path, query, `If-Match`, canonical JSON body) gets that stored answer "
                    "again, with `Idempotent-Replayed: true` and `X-Idempotent-Replayed: "
                    "true`, and nothing runs twice. Answers >= 500 and rejections (400, 401, "
                    "403, 408, 413, 422, 429) are not stored, so the same key may be retried."
                ),
                "schema": {"type": "string", "pattern": KEY_HEADER_PATTERN},
            }
        ],
        "responses": {
            "400": _problem(
                "Idempotency-Key malformed or given twice"
                + ("; or missing (it is required here)" if required else "")
            ),
            "409": {
                **_problem("A request with this Idempotency-Key is still in progress"),
                "headers": {"Retry-After": _RETRY_AFTER},
            },
            "422": _problem(
                "Invalid request, or Idempotency-Key already used with another request "
                "(target or body)",
                "ValidationProblem",
            ),
            "503": {
                **_problem(
                    "The idempotency store is unavailable: a request carrying "
                    "Idempotency-Key is not processed (retry later with the same key)"
                ),
                "headers": {"Retry-After": _RETRY_AFTER},
            },
        },
    }


def _takes_idempotency_key(operation: dict[str, Any]) -> bool:
    return any(p.get("name") == IDEMPOTENCY_HEADER for p in operation.get("parameters", ()))


def _document_replay_headers(operation: dict[str, Any]) -> None:
    for code, response in operation.get("responses", {}).items():
        if code.startswith("2"):
            headers = response.setdefault("headers", {})
            for name in _REPLAY_HEADERS:
                headers[name] = {
                    "description": "`true` when this is a stored answer replayed for a "
                    "repeated Idempotency-Key; absent on a first run",
                    "schema": {"type": "string", "enum": ["true"]},
                }


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:g} h"


def idempotency_docs(*, ttl_s: float, lock_ttl_s: float) -> OpenAPICustomiser:
    """A customiser adding the configured lifetimes of stored answers and reservations to
    every route marked with `idempotency_key(...)`."""
    note = (
        f" Stored answers are kept for {_hours(ttl_s)}; a reservation whose request never "
        f"finished (a crash) expires after {lock_ttl_s:g} s, and the key can then be used again."
    )

    def customise(schema: dict[str, Any], _app: FastAPI) -> None:
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                if not isinstance(operation, dict):
                    continue
                for parameter in operation.get("parameters", ()):
                    described = parameter.get("description", "")
                    # Parameters may be one shared object in several operations: add it once.
                    if parameter.get("name") == IDEMPOTENCY_HEADER and note not in described:
                        parameter["description"] = described + note

    return customise


_FASTAPI_ERROR_SCHEMAS: tuple[dict[str, str], ...] = (
    {},
    {"$ref": "#/components/schemas/HTTPValidationError"},
)


def _problem_content(code: str, content: dict[str, Any] | None) -> dict[str, Any]:
    """An error response's content: what the route declared, else problem+json.

    FastAPI's placeholders (`application/json` with an empty schema, or its own
    HTTPValidationError) are dropped: the services never answer errors that way.
    """
    content = dict(content or {})
    declared = content.get("application/json")
    if declared is not None and declared.get("schema", {}) in _FASTAPI_ERROR_SCHEMAS:
        del content["application/json"]
    if not content:
        content = _problem("", "ValidationProblem" if code == "422" else "Problem")["content"]
    return content


def _problemize(schema: dict[str, Any]) -> dict[str, Any]:
    """Declare the bearer scheme and problem+json errors on a generated schema."""
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = _PROBLEM_SCHEMA
    schemas["ValidationProblem"] = _VALIDATION_PROBLEM_SCHEMA
    components.setdefault("securitySchemes", {})[BEARER_SCHEME] = {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An RS256 access token (`Authorization: Bearer <token>`).",
    }
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses: dict[str, Any] = operation["responses"]
            for code, response in responses.items():
                if code[:1] in "45":
                    response["content"] = _problem_content(code, response.get("content"))
            if operation.get("security"):
                responses.setdefault("401", _problem("Missing, invalid or expired access token"))
                responses["401"].setdefault("headers", {})["WWW-Authenticate"] = {
                    "description": "`Bearer` with the error, per RFC 6750",
                    "schema": {"type": "string"},
                }
            if "health" not in operation.get("tags", ()):
                responses.setdefault("default", _problem("Any other error (RFC 9457)"))
            if _takes_idempotency_key(operation):
                _document_replay_headers(operation)
    # FastAPI's own validation-error schemas, now that 422 answers are problems.
    fastapi_own = ("HTTPValidationError", "ValidationError")
    others = {n: s for n, s in schemas.items() if n not in fastapi_own}
    in_use = json.dumps([schema["paths"], others])
    for name in fastapi_own:
        if f'"#/components/schemas/{name}"' not in in_use:
            schemas.pop(name, None)
    return schema


def _hoist_defs(spec: dict[str, Any]) -> dict[str, Any]:
    """Move `$defs` nested in hand-written schemas into components and fix their refs.

    A route's `openapi_extra`/`responses` may embed `Model.model_json_schema()`, whose
    sub-models sit under a local `$defs` that `#/$defs/...` refs point into; those refs are
    not valid from the document root and make ReDoc fail ("Invalid reference token: $defs").
    """
    components = spec.setdefault("components", {}).setdefault("schemas", {})

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for name, schema in node.pop("$defs", {}).items():
                components.setdefault(name, schema)
                walk(schema)
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                node["$ref"] = "#/components/schemas/" + ref.removeprefix("#/$defs/")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)
    return spec


def install_openapi(app: FastAPI, customisers: Sequence[OpenAPICustomiser] = ()) -> None:
    """Generate the schema once: FastAPI's, then each customiser in order, then the shared
    bearer scheme and problem+json responses (the one `app.openapi` override)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            generated = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
                servers=app.servers,
            )
            schema = copy.deepcopy(generated)
            for customise in customisers:
                customise(schema, app)
            app.openapi_schema = _hoist_defs(_problemize(schema))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def assets_dir() -> Path:
    """Swagger UI and ReDoc bundles from the fastapi-offline wheel (located, not imported)."""
    spec = importlib.util.find_spec("fastapi_offline")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("fastapi-offline is not installed; it ships the docs assets")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def install_docs(app: FastAPI) -> None:
    """Serve `/docs` (Swagger UI), `/redoc` (ReDoc) and their assets from this process."""
    openapi_url = app.openapi_url or "/openapi.json"
    app.mount(ASSETS_PATH, StaticFiles(directory=assets_dir()), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _with_csp(
            get_swagger_ui_html(
                openapi_url=root + openapi_url,
                title=f"{app.title} - Swagger UI",
                oauth2_redirect_url=root + "/docs/oauth2-redirect",
                swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
                swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
                swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
                # No badge that would ask validator.swagger.io about our schema.
                swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": True},
            )
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return _with_csp(
            get_redoc_html(
                openapi_url=root + openapi_url,
                title=f"{app.title} - ReDoc",
                redoc_js_url=f"{root}{ASSETS_PATH}/redoc.standalone.js",
                redoc_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
                with_google_fonts=False,
            )
        )


def _with_csp(response: HTMLResponse) -> HTMLResponse:
    response.headers["content-security-policy"] = DOCS_CSP
    return response
