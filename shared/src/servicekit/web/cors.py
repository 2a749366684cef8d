"""Response headers every answer carries, and CORS only when origins are listed.

- `X-Content-Type-Options: nosniff` on every response: a browser never runs a JSON or
  problem body as script or style.
- `Cache-Control: no-store` on responses to authenticated requests (an `Authorization`
  header) and under `no_store_path_prefixes` (token responses, RFC 6749 section 5.1), unless
  the route set its own `Cache-Control` (a response cached on purpose keeps its policy).
- No `Server` header: uvicorn writes its own below the ASGI layer, so `servicekit.web.server`
  switches it off in the server's configuration instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit.core.problems import problem_response, problem_type

_NOSNIFF = (b"x-content-type-options", b"nosniff")
_NO_STORE = (b"cache-control", b"no-store")


class SecurityHeadersMiddleware:
    """Add `nosniff` everywhere and `no-store` where a response may hold a caller's data."""

    def __init__(self, app: ASGIApp, *, no_store_path_prefixes: Sequence[str] = ()) -> None:
        self.app = app
        self.no_store_path_prefixes = tuple(no_store_path_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        no_store = bool(self.no_store_path_prefixes) and scope["path"].startswith(
            self.no_store_path_prefixes
        )
        if not no_store:
            no_store = any(name == b"authorization" for name, _ in scope["headers"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                names = {name.lower() for name, _ in headers}
                if b"x-content-type-options" not in names:
                    headers.append(_NOSNIFF)
                if no_store and b"cache-control" not in names:
                    headers.append(_NO_STORE)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


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
