"""Idempotency-Key for POST and PATCH (draft-ietf-httpapi-idempotency-key-header), as pure ASGI.

A middleware rather than a route dependency because it must hold the *final* response (after
every exception handler ran) and answer a replay without running the route. Keys are scoped
by tenant + subject + method + route template; a replay carries `Idempotent-Replayed: true`;
Redis down when reserving is a 503 (fail closed). The full behaviour, statuses and the why:
docs/adr/0002-cache-and-idempotency.md ("Idempotency-Key in detail").
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import logging
import math
import os
import re
import weakref
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from fastapi.routing import iter_route_contexts
from redis.asyncio import Redis
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit.core.metrics import registry
from servicekit.core.problems import problem_response, problem_type
from servicekit.data.redisops import REDIS_ERRORS, Breaker, LuaScript, deadline
from servicekit.web.context import context_of, is_json_media

log = logging.getLogger("servicekit.web.idempotency")

MIN_TTL_S = 24 * 3600
MAX_TTL_S = 48 * 3600
HEADER = b"idempotency-key"
REPLAY_HEADERS = ((b"idempotent-replayed", b"true"), (b"x-idempotent-replayed", b"true"))

KEY_CHARS = r"[A-Za-z0-9\-_.:~+/=]{1,255}"
# The header value as `parse_idempotency_key` reads it (spaces and tabs around are trimmed, a
# quoted key is unquoted): the pattern the documented header schema carries.
KEY_HEADER_PATTERN = f'^[ \\t]*("{KEY_CHARS}"|{KEY_CHARS})[ \\t]*$'
_KEY_CHARS = re.compile(KEY_CHARS)

# On the registry `/metrics` renders (servicekit.core.metrics), not prometheus-client's default.
_REPLAYS = registry.counter(
    "servicekit_idempotency_replays_total", "Keyed requests answered with a stored response"
)
_OUTCOMES = registry.counter(
    "servicekit_idempotency_requests_total",
    "Keyed requests by outcome: stored, not_stored, replayed, conflict, in_progress, "
    "mismatch, unavailable, invalid, missing, too_large",
    ["outcome"],
)

# Reserve or report what the key holds, in one step.
# -> {'reserved'} | {'mismatch'} | {'pending', pttl} | {'done', status, headers, body}
_RESERVE = LuaScript(
    """
local rec = redis.call('HMGET', KEYS[1], 'fp', 'state', 'status', 'headers', 'body')
if not rec[1] then
  redis.call('HSET', KEYS[1], 'fp', ARGV[1], 'state', 'pending', 'token', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {'reserved'}
end
if rec[1] ~= ARGV[1] then return {'mismatch'} end
if rec[2] ~= 'done' then return {'pending', redis.call('PTTL', KEYS[1])} end
return {'done', rec[3], rec[4], rec[5]}
"""
)
# Turn our reservation into the stored response (never someone else's reservation).
_STORE = LuaScript(
    """
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', 'done', 'status', ARGV[2], 'headers', ARGV[3],
  'body', ARGV[4])
redis.call('HDEL', KEYS[1], 'token')
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
"""
)
_RELEASE = LuaScript(
    """
if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
)


class PrincipalLike(Protocol):
    @property
    def subject(self) -> str: ...

    @property
    def tenant_id(self) -> str: ...


ScopeResolver = Callable[[Scope], "Awaitable[tuple[str, str] | None] | tuple[str, str] | None"]
RouteResolver = Callable[[Scope], str | None]
RedisSource = Redis | Callable[[Scope], Redis]


class InvalidKeyError(ValueError):
    """The header is not a key this server accepts."""


class _BodyTooLargeError(Exception):
    """The keyed request body is over `max_body_bytes`."""


class _ClientGoneError(Exception):
    """The client disconnected before its body arrived."""


def parse_idempotency_key(raw: bytes) -> str:
    """The key from a header value: an sf-string ("...") or a bare token, of the safe charset."""
    text = raw.decode("latin-1").strip(" \t")
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        text = text[1:-1]
    if not _KEY_CHARS.fullmatch(text):
        raise InvalidKeyError(text)
    return text


def canonical_body(body: bytes, content_type: str) -> bytes:
    """Canonical JSON (sorted keys, no whitespace) when the body is JSON; else the bytes."""
    media = content_type.split(";", 1)[0].strip().lower()
    if body and is_json_media(media):  # the request context's rule, not a third copy
        try:
            parsed = json.loads(body)
        except (ValueError, RecursionError):  # too deep for the parser: fingerprint the bytes
            return b"raw\x00" + body
        return b"json\x00" + json.dumps(
            parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8", "surrogatepass")
    return b"raw\x00" + body


def request_fingerprint(
    *,
    path: str,
    query: bytes,
    body: bytes,
    content_type: str,
    preconditions: Sequence[bytes] = (),
) -> str:
    """SHA-256 over the target, the precondition headers (If-Match) and the canonical body."""
    digest = hashlib.sha256()
    digest.update(path.encode("utf-8", "surrogateescape"))
    digest.update(b"?" + query + b"\x00")
    for value in preconditions:
        digest.update(value + b"\x00")
    digest.update(b"\x01")
    digest.update(canonical_body(body, content_type))
    return digest.hexdigest()


def storage_key(
    namespace: str, *, tenant: str, subject: str, method: str, template: str, key: str
) -> str:
    """One Redis key per (tenant, subject, method, route template, key); hashed, unambiguous."""
    scope = json.dumps([tenant, subject, method, template, key], ensure_ascii=False)
    return namespace + hashlib.sha256(scope.encode("utf-8", "surrogatepass")).hexdigest()


def _template_in(routes: Iterable[BaseRoute], scope: Scope, prefix: str) -> str | None:
    for route in routes:
        match, child = route.matches(scope)
        if match is not Match.FULL:
            continue
        if isinstance(route, Mount):
            inner = _template_in(route.routes, {**scope, **child}, prefix + route.path)
            if inner is not None:
                return inner
            continue
        if isinstance(route, Route):
            return prefix + route.path
    return None


@dataclass(frozen=True, slots=True)
class _RouteEntry:
    regex: re.Pattern[str]
    methods: frozenset[str]
    template: str


# Per app: (its route list's length when built, the method routes with their full templates,
# the mounts). Built on first use: routers included into the app are flattened once.
_ROUTE_TABLES: weakref.WeakKeyDictionary[Any, tuple[int, list[_RouteEntry], list[Mount]]] = (
    weakref.WeakKeyDictionary()
)


def _route_table(app: Any, routes: Sequence[BaseRoute]) -> tuple[list[_RouteEntry], list[Mount]]:
    cached = _ROUTE_TABLES.get(app)
    if cached is not None and cached[0] == len(routes):
        return cached[1], cached[2]
    entries: list[_RouteEntry] = []
    mounts: list[Mount] = []
    # FastAPI keeps included routers as branches (`_IncludedRouter`); iter_route_contexts
    # yields every route with its effective (prefixed) path, as routing itself sees it.
    for context in iter_route_contexts(routes):
        original = context.original_route
        if isinstance(original, Mount):
            mounts.append(original)
            continue
        methods, template = context.methods, context.path_format
        regex = getattr(context, "path_regex", None)
        if methods and template is not None and regex is not None:
            entries.append(_RouteEntry(regex, frozenset(methods), template))
    with contextlib.suppress(TypeError):  # an app that cannot be weakly referenced: no cache
        _ROUTE_TABLES[app] = (len(routes), entries, mounts)
    return entries, mounts


def app_route_template(scope: Scope) -> str | None:
    """The template (`/api/v1/pedidos/{id}/confirm`) of the app route this request matches.

    None when no route matches both the path and the method (the app answers 404 or 405).
    """
    app = scope.get("app")
    router = getattr(app, "router", None)
    routes: Sequence[BaseRoute] | None = getattr(router, "routes", None)
    if routes is None:
        return None
    entries, mounts = _route_table(app, routes)
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    method: str = scope["method"]
    for entry in entries:
        if method in entry.methods and entry.regex.match(path):
            return entry.template
    return _template_in(mounts, scope, "") if mounts else None


@dataclass(frozen=True, slots=True)
class KeyedRequest:
    """What the middleware knows of a keyed request, for a route that records it durably."""

    key: str
    fingerprint: str
    method: str
    template: str


_KEYED_STATE = "servicekit.web.idempotency.keyed"


def keyed_request(scope: Scope) -> KeyedRequest | None:
    """The key and fingerprint this middleware computed for the request, or None if unkeyed.

    A route that writes them in its own transaction (beside the row it creates) answers a
    retry correctly even when Redis lost the record: the fingerprint is the same one.
    """
    keyed: KeyedRequest | None = scope.get("state", {}).get(_KEYED_STATE)
    return keyed


def _encode_headers(headers: Sequence[tuple[bytes, bytes]]) -> bytes:
    return json.dumps([[k.decode("latin-1"), v.decode("latin-1")] for k, v in headers]).encode()


def _decode_headers(raw: bytes) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in json.loads(raw)]


class IdempotencyMiddleware:
    """Idempotency-Key handling for POST/PATCH under a path prefix (see the module docstring).

    Mount it so that it runs before routing (it resolves the route template itself):
    `app.add_middleware(IdempotencyMiddleware, redis=..., scope_resolver=..., required=...)`.
    `redis` is a client or a function of the scope that returns one (the client is often
    built in the lifespan, after the middleware is constructed). `lock_ttl_s` must exceed
    the longest a request can run (the server's request timeout): a reservation that
    outlives it is taken to be a crashed process's, and the key becomes usable again.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        redis: RedisSource,
        scope_resolver: ScopeResolver,
        required: Collection[tuple[str, str]] = (),
        route_resolver: RouteResolver = app_route_template,
        path_prefix: str = "/api/v1",
        methods: Collection[str] = ("POST", "PATCH"),
        namespace: str = "idem:",
        ttl_s: float = MIN_TTL_S,
        lock_ttl_s: float = 30.0,
        retry_after_s: int = 1,
        op_timeout_s: float | None = 0.5,
        breaker_cooldown_s: float = 0.0,
        max_body_bytes: int = 1024 * 1024,
        stored_headers: Collection[str] = ("content-type", "location", "etag"),
        unstored_statuses: Collection[int] = (400, 401, 403, 408, 413, 422, 429),
        fingerprint_headers: Collection[str] = ("if-match", "if-unmodified-since"),
        forbidden: Callable[[Scope, str, str], Awaitable[bool]] | None = None,
    ) -> None:
        if not MIN_TTL_S <= ttl_s <= MAX_TTL_S:
            raise ValueError(f"ttl_s must be within [{MIN_TTL_S}, {MAX_TTL_S}] seconds")
        if lock_ttl_s <= 0:
            raise ValueError("lock_ttl_s must be positive")
        self.app = app
        self._redis = redis
        self._scope_resolver = scope_resolver
        self._required = frozenset((m.upper(), t) for m, t in required)
        self._route_resolver = route_resolver
        self._prefix = path_prefix.rstrip("/")
        self._methods = frozenset(m.upper() for m in methods)
        self._namespace = namespace
        self._ttl_ms = round(ttl_s * 1000)
        self._lock_ttl_ms = round(lock_ttl_s * 1000)
        self._retry_after_s = max(1, retry_after_s)
        self._op_timeout_s = op_timeout_s
        self._breaker = Breaker(breaker_cooldown_s)
        self._max_body = max_body_bytes
        self._stored_headers = frozenset(h.lower().encode("latin-1") for h in stored_headers)
        self._unstored = frozenset(unstored_statuses)
        self._fingerprint_headers = frozenset(
            h.lower().encode("latin-1") for h in fingerprint_headers
        )
        # (scope, method, template) -> True when the app will refuse this caller (403) anyway:
        # a missing required key then goes to the app, so the caller learns the real reason.
        self._forbidden = forbidden

    def _applies(self, scope: Scope) -> bool:
        if scope["type"] != "http" or scope["method"] not in self._methods:
            return False
        path: str = scope["path"]
        return path == self._prefix or path.startswith(self._prefix + "/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._applies(scope):
            await self.app(scope, receive, send)
            return
        template = self._route_resolver(scope)
        if template is None:
            await self.app(scope, receive, send)  # the app answers its 404 or 405
            return
        method: str = scope["method"]
        values = [v for k, v in scope["headers"] if k == HEADER]
        required = (method, template) in self._required
        if not values and not required:
            await self.app(scope, receive, send)
            return
        principal = await self._resolve_principal(scope)
        if principal is None:
            await self.app(scope, receive, send)  # the app answers its 401
            return
        if not values:
            if self._forbidden is not None and await self._forbidden(scope, method, template):
                await self.app(scope, receive, send)  # the app answers its 403; nothing runs
                return
            _OUTCOMES.labels("missing").inc()
            await self._problem(
                scope,
                receive,
                send,
                400,
                title="Idempotency-Key required",
                detail=f"{method} {template} requires an Idempotency-Key header.",
                slug="idempotency-key-missing",
            )
            return
        try:
            if len(values) > 1:
                raise InvalidKeyError("more than one header")
            key = parse_idempotency_key(values[0])
        except InvalidKeyError:
            _OUTCOMES.labels("invalid").inc()
            await self._problem(
                scope,
                receive,
                send,
                400,
                title="Invalid Idempotency-Key",
                detail="Idempotency-Key must be one value of 1-255 characters from "
                "A-Z a-z 0-9 - _ . : ~ + / =, as a bare token or a quoted string.",
                slug="idempotency-key-invalid",
            )
            return
        ctx = context_of(scope)
        try:
            # Read once by the request limits when the app has them; else read here.
            body = ctx.body if ctx.body is not None else await self._read_body(receive)
        except _ClientGoneError:
            return
        except _BodyTooLargeError:
            _OUTCOMES.labels("too_large").inc()
            await self._problem(
                scope,
                receive,
                send,
                413,
                detail=f"Keyed request bodies are limited to {self._max_body} bytes.",
                slug="payload-too-large",
            )
            return
        tenant, subject = principal
        record = storage_key(
            self._namespace,
            tenant=tenant,
            subject=subject,
            method=method,
            template=template,
            key=key,
        )
        if ctx.body is None:
            content_type = ctx.header(b"content-type") or b""
            media_type = content_type.decode("latin-1")
        else:
            media_type = ctx.media_type or ""
        fingerprint = request_fingerprint(
            path=scope["path"],
            query=scope.get("query_string", b""),
            body=body,
            content_type=media_type,
            preconditions=[v for k, v in scope["headers"] if k in self._fingerprint_headers],
        )
        keyed = KeyedRequest(key, fingerprint, method, template)
        scope.setdefault("state", {})[_KEYED_STATE] = keyed
        await self._handle(scope, receive, send, record=record, fingerprint=fingerprint, body=body)

    async def _handle(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        record: str,
        fingerprint: str,
        body: bytes,
    ) -> None:
        token = os.urandom(12).hex()
        try:
            if self._breaker.is_open():
                raise ConnectionError("breaker open")
            redis = self._client(scope)
            async with deadline(self._op_timeout_s):
                reply = await _RESERVE(redis, (record,), (fingerprint, token, self._lock_ttl_ms))
        except REDIS_ERRORS:
            self._breaker.trip()
            log.warning("redis unavailable for idempotency keys")
            _OUTCOMES.labels("unavailable").inc()
            await self._problem(
                scope,
                receive,
                send,
                503,
                title="Idempotency store unavailable",
                detail="The request was not processed; retry it later with the same key.",
                slug="idempotency-unavailable",
                headers={"Retry-After": str(self._retry_after_s)},
            )
            return
        self._breaker.reset()
        outcome = reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0])
        if outcome == "done":
            _REPLAYS.inc()
            _OUTCOMES.labels("replayed").inc()
            await self._replay(send, status=int(reply[1]), headers=reply[2], body=reply[3])
            return
        if outcome == "mismatch":
            _OUTCOMES.labels("mismatch").inc()
            await self._problem(
                scope,
                receive,
                send,
                422,
                title="Idempotency-Key reused",
                detail="This Idempotency-Key was used with another request (target or body).",
                slug="idempotency-key-reused",
            )
            return
        if outcome == "pending":
            _OUTCOMES.labels("in_progress").inc()
            remaining_s = max(1, math.ceil(int(reply[1]) / 1000)) if int(reply[1]) > 0 else 1
            await self._problem(
                scope,
                receive,
                send,
                409,
                title="Request in progress",
                detail="A request with this Idempotency-Key is still being processed.",
                slug="idempotency-key-in-progress",
                headers={"Retry-After": str(min(remaining_s, self._retry_after_s))},
            )
            return
        await self._run_and_store(scope, receive, send, record=record, token=token, body=body)

    async def _run_and_store(
        self, scope: Scope, receive: Receive, send: Send, *, record: str, token: str, body: bytes
    ) -> None:
        start: Message | None = None
        chunks: list[bytes] = []
        body_sent = False

        async def replay_body() -> Message:
            nonlocal body_sent
            if not body_sent:
                body_sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            else:  # extensions (trailers, pathsend) are not buffered: passed on as they come
                await send(message)

        redis = self._client(scope)
        try:
            await self.app(scope, replay_body, capture)
        except BaseException:
            await self._release(redis, record, token)
            raise
        if start is None:
            await self._release(redis, record, token)
            return
        status = int(start["status"])
        content = b"".join(chunks)
        if status >= 500 or status in self._unstored:
            await self._release(redis, record, token)
            _OUTCOMES.labels("not_stored").inc()
        else:
            kept = [
                (k.lower(), v)
                for k, v in start.get("headers", [])
                if k.lower() in self._stored_headers
            ]
            try:
                async with deadline(self._op_timeout_s):
                    await _STORE(
                        redis,
                        (record,),
                        (token, status, _encode_headers(kept), content, self._ttl_ms),
                    )
                _OUTCOMES.labels("stored").inc()
            except REDIS_ERRORS:
                log.warning("idempotent response not stored; the reservation will expire")
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(content)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content, "more_body": False})

    async def _replay(self, send: Send, *, status: int, headers: bytes, body: bytes) -> None:
        out = [(k, v) for k, v in _decode_headers(headers) if k != b"content-length"]
        out.append((b"content-length", str(len(body)).encode()))
        out.extend(REPLAY_HEADERS)
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _release(self, redis: Redis, record: str, token: str) -> None:
        try:
            async with deadline(self._op_timeout_s):
                await _RELEASE(redis, (record,), (token,))
        except REDIS_ERRORS:
            log.warning("idempotency reservation not released; it will expire")

    async def _resolve_principal(self, scope: Scope) -> tuple[str, str] | None:
        result = self._scope_resolver(scope)
        if inspect.isawaitable(result):
            return await result
        return result

    def _client(self, scope: Scope) -> Redis:
        source = self._redis
        return source if isinstance(source, Redis) else source(scope)

    async def _read_body(self, receive: Receive) -> bytes:
        """The whole request body (it is fingerprinted before the app sees it)."""
        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise _ClientGoneError
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body:
                raise _BodyTooLargeError
            parts.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(parts)

    async def _problem(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        status: int,
        *,
        slug: str,
        title: str | None = None,
        detail: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        response = problem_response(
            status,
            title=title,
            detail=detail,
            type_=problem_type(slug),
            instance=scope["path"],
            headers=headers,
        )
        await response(scope, receive, send)
