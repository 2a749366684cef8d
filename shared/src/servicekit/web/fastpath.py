"""Declared fast path: GET routes that may be answered before routing, through their own code.

A route opts in under its `@router.get(...)`:
- `@fast_read(serve)` for `GET <prefix>/{param}` with a declared permission: `serve(ctx,
  principal, param)` is the function the route itself calls. Served for an authorized caller;
  whatever the fast path is not sure of (no or bad token, a missing permission, a parameter
  not in canonical form) goes on to the route, which answers it from the same request context
  (no second verification).
- `@fast_query(serve, model=Query)` for `GET <exact path>` whose query string is one model of
  scalar fields (a list endpoint's filters, sort, limit and cursor), with a declared
  permission: `serve(request, principal, query)`. Only a query the fast path reads exactly as
  FastAPI would (each known parameter at most once, the model valid) is served; anything
  else, an invalid or unknown parameter included, goes to the route and its 422.
- `@fast_answer(serve)` for a public `GET` or `POST` of one exact path (no parameter, no
  declared permission: a probe, a key set, the token endpoint that authenticates its own
  callers): `serve(request)` is the function the route itself calls.
`FastPathMiddleware` serves every such route without routing or dependency solving: FastAPI's
route matching (each included router a branch matched twice), its exception and exit-stack
layers and the endpoint wrapping are most of a small request's cost.
"""

from __future__ import annotations

import types
import typing
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from servicekit.verify.principal import Principal
from servicekit.web.context import RequestContext, context_of
from servicekit.web.marks import F, mark, marked_routes
from servicekit.web.security import Permission, declarations


@dataclass(frozen=True, slots=True)
class Answer:
    """A finished answer: status, body and raw headers, sendable without a Response object."""

    status: int
    body: bytes = b""
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)

    def response(self) -> Response:
        out = Response(content=self.body, status_code=self.status)
        out.raw_headers.extend(self.headers)
        return out

    @classmethod
    def of(cls, response: Response) -> Answer:
        """A rendered Starlette response as an Answer (its length is recomputed when sent)."""
        headers = [(k, v) for k, v in response.raw_headers if k != b"content-length"]
        return cls(response.status_code, bytes(response.body), headers)


Serve = Callable[[RequestContext, Principal, Any], Awaitable[Answer]]
ServeQuery = Callable[[Request, Principal, Any], Awaitable[Answer]]
ServeExact = Callable[[Request], Awaitable[Answer]]
_EXACT_METHODS = frozenset({"GET", "POST"})
_FAST_READ = "__fast_read__"
_FAST_QUERY = "__fast_query__"
_FAST_ANSWER = "__fast_answer__"


def canonical_uuid(raw: str) -> uuid.UUID | None:
    """The UUID `raw` names in canonical form; None for any other spelling (the route decides)."""
    if len(raw) != 36:
        return None
    try:
        value = uuid.UUID(raw)
    except ValueError:
        return None
    return value if str(value) == raw else None


@dataclass(frozen=True, slots=True)
class FastRead:
    serve: Serve
    parse: Callable[[str], Any | None]


def fast_read(
    serve: Serve, *, parse: Callable[[str], Any | None] = canonical_uuid
) -> Callable[[F], F]:
    """Mark a `GET <prefix>/{param}` route as servable before routing by `serve`."""
    return mark(_FAST_READ, FastRead(serve, parse))


@dataclass(frozen=True, slots=True)
class FastQuery:
    serve: ServeQuery
    model: type[BaseModel]
    names: frozenset[str]  # the parameter names the model reads (aliases where given)


def _is_sequence(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, typing.Annotated):
        return any(_is_sequence(arg) for arg in typing.get_args(annotation))
    candidate = origin or annotation
    return (
        isinstance(candidate, type)
        and issubclass(candidate, Sequence | set | frozenset)
        and not issubclass(candidate, str | bytes)
    )


def fast_query(serve: ServeQuery, *, model: type[BaseModel]) -> Callable[[F], F]:
    """Mark a `GET <exact path>` route whose query is `model` as servable before routing."""
    names: set[str] = set()
    for name, info in model.model_fields.items():
        # A repeated parameter fills a list field in FastAPI: not a shape read here.
        if _is_sequence(info.annotation):
            raise ValueError(f"{model.__name__}.{name}: a fast query model has scalar fields")
        names.add(info.alias or name)
    return mark(_FAST_QUERY, FastQuery(serve, model, frozenset(names)))


def fast_answer(serve: ServeExact) -> Callable[[F], F]:
    """Mark a public `GET`/`POST <exact path>` route as answerable before routing by `serve`."""
    return mark(_FAST_ANSWER, serve)


@dataclass(frozen=True, slots=True)
class _Entry:
    prefix: str
    route: BaseRoute
    permissions: tuple[Permission, ...]
    read: FastRead


@dataclass(frozen=True, slots=True)
class _QueryEntry:
    route: BaseRoute
    permissions: tuple[Permission, ...]
    query: FastQuery


@dataclass(frozen=True, slots=True)
class _Exact:
    route: BaseRoute
    serve: ServeExact


@dataclass(frozen=True, slots=True)
class _Index:
    exact: dict[tuple[str, str], _Exact]  # (method, path)
    queries: dict[str, _QueryEntry]  # GET path
    entries: list[_Entry]


def _permissions(route: APIRoute, template: str, kind: str) -> tuple[Permission, ...]:
    declared = list(declarations(route.dependant))
    if not declared or None in declared:
        raise ValueError(f"{template}: a {kind} needs a declared permission")
    return tuple(p for p in declared if p is not None)


def _exact(route: APIRoute, template: str, serve: ServeExact) -> tuple[str, _Exact]:
    methods = route.methods or set()
    if len(methods) != 1 or not methods <= _EXACT_METHODS or "{" in template:
        raise ValueError(f"{template}: a fast answer is a GET or POST route of one exact path")
    if any(p is not None for p in declarations(route.dependant)):
        raise ValueError(f"{template}: a fast answer is public (it declares no permission)")
    return next(iter(methods)), _Exact(route, serve)


def _index(routes: list[BaseRoute]) -> _Index:
    exact: dict[tuple[str, str], _Exact] = {}
    for route, template, answer in marked_routes(routes, _FAST_ANSWER):
        method, entry = _exact(route, template, answer)
        exact[(method, template)] = entry
    queries: dict[str, _QueryEntry] = {}
    for route, template, query in marked_routes(routes, _FAST_QUERY):
        if "GET" not in (route.methods or ()) or "{" in template:
            raise ValueError(f"{template}: a fast query is a GET route of one exact path")
        permissions = _permissions(route, template, "fast query")
        queries[template] = _QueryEntry(route, permissions, query)
    entries: list[_Entry] = []
    for route, template, read in marked_routes(routes, _FAST_READ):
        prefix, _, last = template.rpartition("/")
        if "GET" not in (route.methods or ()) or not (last.startswith("{") and "{" not in prefix):
            raise ValueError(f"{template}: a fast read is a GET <prefix>/{{param}} route")
        permissions = _permissions(route, template, "fast read")
        entries.append(_Entry(prefix + "/", route, permissions, read))
    return _Index(exact, queries, entries)


class FastPathMiddleware:
    """Pure ASGI: answer the app's `fast_read` routes before routing (see the module doc)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._index: _Index | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        index = self._index
        if index is None:
            index = self._index = _index(scope["app"].router.routes)
        method: str = scope["method"]
        path: str = scope["path"]
        exact = index.exact.get((method, path))
        if exact is not None:
            scope["route"] = exact.route  # the metrics' label, as if it had been routed
            await _answer(scope, receive, send, exact.serve(Request(scope, receive)))
            return
        if method == "GET":
            query = index.queries.get(path)
            if query is not None and await self._served_query(query, scope, receive, send):
                return
            for entry in index.entries:
                if path.startswith(entry.prefix) and "/" not in path[len(entry.prefix) :]:
                    if await self._served(entry, scope, receive, send):
                        return
                    break
        await self.app(scope, receive, send)

    async def _served(self, entry: _Entry, scope: Scope, receive: Receive, send: Send) -> bool:
        param = entry.read.parse(scope["path"][len(entry.prefix) :])
        if param is None:
            return False
        ctx = context_of(scope)
        principal = await _authorized(ctx, entry.permissions)
        if principal is None:
            return False
        # Labelled with the route's template in the request metrics, as if it had run.
        scope["route"] = entry.route
        await _answer(scope, receive, send, entry.read.serve(ctx, principal, param))
        return True

    async def _served_query(
        self, entry: _QueryEntry, scope: Scope, receive: Receive, send: Send
    ) -> bool:
        params = _single_params(scope["query_string"], entry.query.names)
        if params is None:
            return False
        try:
            query = entry.query.model.model_validate(params)
        except ValidationError:
            return False  # the route's 422 names what is wrong
        principal = await _authorized(context_of(scope), entry.permissions)
        if principal is None:
            return False
        scope["route"] = entry.route
        await _answer(
            scope, receive, send, entry.query.serve(Request(scope, receive), principal, query)
        )
        return True


async def _authorized(ctx: RequestContext, permissions: tuple[Permission, ...]) -> Principal | None:
    """The caller if every permission admits it; None leaves the refusal to the route."""
    principal = await ctx.principal_or_none()
    if principal is None:
        return None
    try:
        for permission in permissions:
            permission.check(principal)
    except Exception:  # noqa: BLE001 - any refusal is the route's to answer
        return None
    return principal


def _single_params(raw: bytes, names: frozenset[str]) -> dict[str, str] | None:
    """The query as FastAPI's query model would receive it, when each parameter is one the
    model reads and is given once (Starlette's parsing: latin-1, blanks kept); else None."""
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
    params = dict(pairs)
    if len(params) != len(pairs) or not params.keys() <= names:
        return None
    return params


async def _answer(scope: Scope, receive: Receive, send: Send, pending: Awaitable[Answer]) -> None:
    try:
        answer = await pending
    except Exception as exc:  # noqa: BLE001 - answered by the app's own handlers
        await _error(scope, receive, send, exc)
        return
    headers = answer.headers
    if answer.status not in (204, 304):
        headers = [(b"content-length", b"%d" % len(answer.body)), *headers]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body})


async def _error(scope: Scope, receive: Receive, send: Send, exc: Exception) -> None:
    """Answer `exc` as the app would: its handler for the nearest class (problem+json)."""
    handlers = scope["app"].exception_handlers
    handler = next((handlers[c] for c in type(exc).__mro__ if c in handlers), None)
    if handler is None:
        raise exc
    response = await handler(Request(scope, receive), exc)
    await response(scope, receive, send)
