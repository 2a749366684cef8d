"""Request limits as pure ASGI middleware: every rejection is a problem+json.

`RequestLimitsMiddleware` checks, before the app sees a request: the size of the request head
(431), the query string (414 in total, 422 per parameter), disagreeing duplicate Content-Type
headers (400), the body size (413, counted as it streams), a whole-body read deadline (408),
and the nesting depth and array lengths of a JSON body (422). It is the one place that reads
the body: it leaves body and media type in the request context (`servicekit.web.context`).

`ConcurrencyLimitMiddleware` answers 503 with `Retry-After` once a process has too many
requests in flight. It sits inside the body reader, so a slowly trickling body holds no slot.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit.core.problems import problem_response, problem_type
from servicekit.web.context import (
    CONTEXT_SCOPE_KEY,
    ConflictingContentTypeError,
    RequestContext,
    is_json_media,
    media_type_of,
)
from servicekit.web.marks import F, mark, marked_routes

# A JSON string (escapes included, possibly unterminated) or one structural byte. Strings are
# matched whole so that brackets and commas inside them are skipped by the C regex engine.
_JSON_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{},]', re.DOTALL)
_OPEN_ARRAY, _OPEN_OBJECT, _CLOSE_ARRAY, _CLOSE_OBJECT, _COMMA = b"[{]},"
_IN_OBJECT = -1

_CLOSE = {"Connection": "close"}


def json_shape_violation(body: bytes, *, max_depth: int, max_array_items: int) -> str | None:
    """Why `body` is too deep or has too long an array, or None when it is within both limits.

    Only the structure is read; malformed JSON is left to the parser that runs afterwards.
    """
    # Fast path for ordinary bodies: too few brackets to be deep, too few commas to be long.
    if body.count(b"[") + body.count(b"{") <= max_depth and body.count(b",") < max_array_items:
        return None
    depth = 0
    # One entry per open container: the commas seen so far in an array, or _IN_OBJECT.
    stack: list[int] = []
    for match in _JSON_TOKEN.finditer(body):
        byte = body[match.start()]
        if byte in (_OPEN_ARRAY, _OPEN_OBJECT):
            depth += 1
            if depth > max_depth:
                return f"JSON nesting deeper than {max_depth} levels."
            stack.append(0 if byte == _OPEN_ARRAY else _IN_OBJECT)
        elif byte in (_CLOSE_ARRAY, _CLOSE_OBJECT):
            if stack:
                depth -= 1
                stack.pop()
        elif byte == _COMMA and stack and stack[-1] != _IN_OBJECT:
            stack[-1] += 1
            if stack[-1] >= max_array_items:
                return f"JSON array with more than {max_array_items} items."
    return None


def _shaped_as_json(media_type: str | None) -> bool:
    # FastAPI parses a body without Content-Type as JSON, so that counts as JSON here too.
    return media_type is None or is_json_media(media_type)


_BODY_CAP = "__body_cap__"


class _BodyTooLargeError(Exception):
    pass


class _ClientGoneError(Exception):
    pass


def body_cap(setting: str) -> Callable[[F], F]:
    """Declare that a route's request body is capped by the settings field `setting` (bytes),
    not by `max_body_bytes`: a form of a few fields needs far less than a JSON document, and
    the one reader of the body (`RequestLimitsMiddleware`) enforces it, once, with a 413."""
    return mark(_BODY_CAP, setting)


@dataclass(frozen=True, slots=True)
class _RouteCaps:
    exact: dict[tuple[str, str], int]  # (method, path) -> bytes
    patterns: list[tuple[str, re.Pattern[str], int]]  # (method, path regex, bytes)

    def cap(self, method: str, path: str, default: int) -> int:
        found = self.exact.get((method, path))
        if found is not None:
            return found
        for pattern_method, pattern, cap in self.patterns:
            if pattern_method == method and pattern.match(path):
                return cap
        return default


def _route_caps(app: Any) -> _RouteCaps:
    """The caps routes declare with `body_cap`, read from the app's settings."""
    settings = getattr(app.state, "settings", None)
    exact: dict[tuple[str, str], int] = {}
    patterns: list[tuple[str, re.Pattern[str], int]] = []
    for route, template, setting in marked_routes(app.router.routes, _BODY_CAP):
        cap = getattr(settings, setting, None)
        if not isinstance(cap, int) or isinstance(cap, bool) or cap < 1:
            raise ValueError(f"{template}: body cap setting {setting!r} is not a positive int")
        for method in route.methods or ():
            if "{" in template:
                patterns.append((method, route.path_regex, cap))
            else:
                exact[(method, template)] = cap
    return _RouteCaps(exact, patterns)


class RequestLimitsMiddleware:
    """Reject oversized or over-nested requests before the app reads them."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        max_header_bytes: int,
        max_query_string_bytes: int,
        max_query_param_chars: int,
        max_json_depth: int,
        max_json_array_items: int,
        body_timeout_s: float,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_header_bytes = max_header_bytes
        self.max_query_string_bytes = max_query_string_bytes
        self.max_query_param_chars = max_query_param_chars
        self.max_json_depth = max_json_depth
        self.max_json_array_items = max_json_array_items
        self.body_timeout_s = body_timeout_s
        self._caps: _RouteCaps | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query: bytes = scope["query_string"]
        # The request line and the headers as the server received them (CRLFs and ": " too).
        head_bytes = len(scope.get("raw_path") or scope["path"]) + len(query)
        content_length: bytes | None = None
        content_types: list[bytes] = []
        chunked = False
        for name, value in scope["headers"]:
            head_bytes += len(name) + len(value) + 4
            if name == b"content-length":
                content_length = value
            elif name == b"content-type":
                content_types.append(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
        if head_bytes > self.max_header_bytes:
            await _reject(
                scope,
                receive,
                send,
                431,
                slug="headers-too-large",
                detail=f"The request line and headers exceed {self.max_header_bytes} bytes.",
            )
            return
        if len(query) > self.max_query_param_chars and await self._query_rejected(
            scope, receive, send, query
        ):
            return
        try:
            media_type = media_type_of(content_types)
        except ConflictingContentTypeError:
            await _reject(
                scope,
                receive,
                send,
                400,
                slug="conflicting-content-type",
                detail="Content-Type is given more than once, with different media types.",
            )
            return
        ctx = scope[CONTEXT_SCOPE_KEY] = RequestContext(
            scope["app"], scope["headers"], body=b"", media_type=media_type
        )
        if content_length is None and not chunked:
            await self.app(scope, receive, send)  # no body: nothing more to check
            return
        caps = self._caps
        if caps is None:
            caps = self._caps = _route_caps(scope["app"])
        cap = caps.cap(scope["method"], scope["path"], self.max_body_bytes)
        declared = int(content_length) if content_length and content_length.isdigit() else 0
        if declared > cap:
            await self._too_large(scope, receive, send, cap)
            return
        try:
            async with asyncio.timeout(self.body_timeout_s):
                body = await self._read_body(receive, cap)
        except _BodyTooLargeError:
            await self._too_large(scope, receive, send, cap)
            return
        except TimeoutError:
            await _reject(
                scope,
                receive,
                send,
                408,
                slug="body-timeout",
                detail=f"The request body did not arrive within {self.body_timeout_s:g} s.",
                headers=_CLOSE,
            )
            return
        except _ClientGoneError:
            return
        ctx.body = body
        if body and _shaped_as_json(media_type):
            why = json_shape_violation(
                body, max_depth=self.max_json_depth, max_array_items=self.max_json_array_items
            )
            if why is not None:
                await _reject_validation(
                    scope, receive, send, slug="json-too-complex", loc=["body"], msg=why
                )
                return
        await self.app(scope, _replay(body, receive), send)

    @staticmethod
    async def _read_body(receive: Receive, cap: int) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _ClientGoneError
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > cap:
                raise _BodyTooLargeError
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    @staticmethod
    async def _too_large(scope: Scope, receive: Receive, send: Send, cap: int) -> None:
        # Connection: close, because the rest of the body is never read.
        await _reject(
            scope,
            receive,
            send,
            413,
            slug="body-too-large",
            title="Content Too Large",
            detail=f"The request body exceeds {cap} bytes.",
            headers=_CLOSE,
        )

    async def _query_rejected(
        self, scope: Scope, receive: Receive, send: Send, query: bytes
    ) -> bool:
        if len(query) > self.max_query_string_bytes:
            await _reject(
                scope,
                receive,
                send,
                414,
                slug="query-too-long",
                title="URI Too Long",
                detail=f"The query string exceeds {self.max_query_string_bytes} bytes.",
            )
            return True
        limit = self.max_query_param_chars
        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
        long = [name for name, value in pairs if len(name) > limit or len(value) > limit]
        if not long:
            return False
        await _reject_validation(
            scope,
            receive,
            send,
            slug="query-param-too-long",
            # Name the parameter (shortened: it is the caller's input), never echo the value.
            loc=["query", long[0][:64]],
            msg=f"Query parameter longer than {limit} characters.",
        )
        return True


def _replay(body: bytes, receive: Receive) -> Receive:
    """Hand the app the body already read, then the server's own messages (disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _reject(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    *,
    slug: str,
    detail: str,
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> None:
    response = problem_response(
        status,
        title=title,
        detail=detail,
        type_=problem_type(slug),
        instance=scope["path"],
        headers=headers,
        extra=extra,
    )
    await response(scope, receive, send)


async def _reject_validation(
    scope: Scope, receive: Receive, send: Send, *, slug: str, loc: Sequence[str], msg: str
) -> None:
    """A 422 shaped like the app's own validation problems (an `errors` list per field)."""
    await _reject(
        scope,
        receive,
        send,
        422,
        slug=slug,
        detail=msg,
        title="Request validation failed",
        extra={
            "errors": [
                {
                    "loc": list(loc),
                    "field": ".".join(loc[1:]) or ".".join(loc),
                    "msg": msg,
                    "type": slug,
                }
            ],
        },
    )


class ConcurrencyLimitMiddleware:
    """At most `max_in_flight` requests per process; the next one gets 503 + Retry-After."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_in_flight: int,
        retry_after_s: int = 1,
        exempt_prefixes: tuple[str, ...] = ("/health/", "/metrics"),
    ) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.retry_after = {"Retry-After": str(retry_after_s)}
        # Probes and scrapes must answer while the process is saturated: a kubelet that sees
        # liveness fail under load would restart a pod that is merely busy.
        self.exempt_prefixes = exempt_prefixes
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt_prefixes):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            await _reject(
                scope,
                receive,
                send,
                503,
                slug="overloaded",
                detail="Too many requests in flight; retry shortly.",
                headers=self.retry_after,
            )
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
