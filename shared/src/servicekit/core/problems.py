"""RFC 9457 problem details for every error a service answers."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from servicekit.core.jsonutil import dumps
from servicekit.core.logging import REQUEST_ID_SCOPE_KEY, request_id_var
from servicekit.core.unavailable import dependency_unavailable

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://errors.example.com/problems/"

log = logging.getLogger("servicekit.core.problems")


class ProblemError(Exception):
    """Raise anywhere in a request to answer with a problem+json body."""

    def __init__(
        self,
        status: int,
        *,
        title: str | None = None,
        detail: str | None = None,
        type_: str | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self.status = status
        self.title = title or HTTPStatus(status).phrase
        self.detail = detail
        self.type = type_ or "about:blank"
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})
        super().__init__(detail or self.title)


def problem_type(slug: str) -> str:
    return PROBLEM_TYPE_BASE + slug


# Characters a URI reference may hold as they are (RFC 3986 unreserved, sub-delims, ":@/?#"),
# and "%" when it already starts an escape.
_URI_SAFE = "/?#:@!$&'()*+,;=-._~%"
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def as_uri_reference(text: str) -> str:
    """`text` as a URI reference: a decoded request path (spaces, non-ASCII) percent-encoded,
    an already valid reference unchanged."""
    return _STRAY_PERCENT.sub("%25", quote(text, safe=_URI_SAFE))


def problem_response(
    status: int,
    *,
    title: str | None = None,
    detail: str | None = None,
    type_: str = "about:blank",
    instance: str | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": type_,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
    }
    if detail is not None:
        body["detail"] = detail
    if instance is not None:
        # RFC 9457: a URI reference. Callers pass the decoded request path.
        body["instance"] = as_uri_reference(instance)
    if extra:
        body.update(extra)
    return Response(
        content=dumps(body),
        status_code=status,
        media_type=PROBLEM_CONTENT_TYPE,
        headers=dict(headers or {}),
    )


def _validation_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Each failing field with where it is and why; never echo the rejected input back."""
    out: list[dict[str, Any]] = []
    for err in errors:
        loc = [str(part) for part in err.get("loc", ())]
        out.append(
            {
                "loc": loc,
                "field": ".".join(loc[1:]) or ".".join(loc),
                "msg": str(err.get("msg", "")),
                "type": str(err.get("type", "")),
            }
        )
    return out


async def _handle_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)  # noqa: S101 - registered for this type only
    return problem_response(
        exc.status,
        title=exc.title,
        detail=exc.detail,
        type_=exc.type,
        instance=request.url.path,
        headers=exc.headers,
        extra=exc.extra,
    )


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path. Starlette's 405 names only the first route
    whose path matches, though GET and POST on one path are usually two routes; asking the
    router per method works however routes are nested (FastAPI keeps included routers whole)."""
    routes = request.app.router.routes
    allowed = []
    for method in _METHODS:
        probe = {**request.scope, "method": method}
        if any(route.matches(probe)[0] is Match.FULL for route in routes):
            allowed.append(method)
    return ", ".join(allowed)


async def _handle_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for this type only
    detail = exc.detail if isinstance(exc.detail, str) else None
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request) or headers.get("Allow", "")
    return problem_response(
        exc.status_code,
        detail=detail,
        instance=request.url.path,
        headers=headers,
    )


async def _handle_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for this type only
    return problem_response(
        422,
        title="Request validation failed",
        detail="One or more fields are invalid.",
        type_=problem_type("validation"),
        instance=request.url.path,
        extra={"errors": _validation_errors(exc.errors())},
    )


# Starlette answers unhandled errors from its outermost middleware, outside every middleware
# the app adds, so these answers carry the security headers themselves.
_OUTERMOST_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


async def _handle_unexpected(request: Request, exc: Exception) -> Response:
    rid = request.scope.get(REQUEST_ID_SCOPE_KEY)
    token = request_id_var.set(rid) if rid else None
    try:
        response = _unexpected_response(request, exc)
    finally:
        if token is not None:
            request_id_var.reset(token)
    if rid:
        response.headers["x-request-id"] = rid
    return response


def _unexpected_response(request: Request, exc: Exception) -> Response:
    if dependency_unavailable(exc):
        log.warning(
            "dependency unavailable", extra={"path": request.url.path, "error": type(exc).__name__}
        )
        return problem_response(
            503,
            detail="A backing service is unavailable; retry shortly.",
            type_=problem_type("dependency-unavailable"),
            instance=request.url.path,
            headers={"Retry-After": "1", **_OUTERMOST_HEADERS},
        )
    # The traceback goes to the log (with the request id); the client learns nothing internal.
    log.error("unhandled error", extra={"path": request.url.path}, exc_info=exc)
    return problem_response(
        500,
        detail="An unexpected error occurred.",
        instance=request.url.path,
        headers=_OUTERMOST_HEADERS,
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error of the app an RFC 9457 problem+json response."""
    app.add_exception_handler(ProblemError, _handle_problem)
    app.add_exception_handler(StarletteHTTPException, _handle_http)
    app.add_exception_handler(RequestValidationError, _handle_validation)
    app.add_exception_handler(Exception, _handle_unexpected)
