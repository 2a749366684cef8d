"""CORS, only when origins are listed (the headers every answer carries are added by
servicekit.web.middleware.EdgeMiddleware)."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from servicekit.core.problems import problem_response, problem_type

# What a browser client of these APIs sends and needs to read back.
CORS_ALLOW_METHODS = ("GET", "POST", "PATCH", "DELETE")
CORS_ALLOW_HEADERS = (
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "If-Match",
    "X-Request-ID",
)
CORS_EXPOSE_HEADERS = (
    "ETag",
    "Location",
    "Retry-After",
    "X-Request-ID",
    "Idempotent-Replayed",
    "WWW-Authenticate",
)


class ProblemCORSMiddleware(CORSMiddleware):
    """Starlette's CORS middleware, with a refused preflight answered as problem+json."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        headers = {
            k: v for k, v in response.headers.items() if k not in ("content-type", "content-length")
        }
        return problem_response(
            response.status_code,
            title="CORS preflight refused",
            detail=bytes(response.body).decode("utf-8", "replace"),
            type_=problem_type("cors-refused"),
            headers=headers,
        )
