"""/api/v1/items: thin handlers over ItemService."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from orders_service._http import documented_body, json_body, json_response, next_link
from orders_service.errors import ItemNotFoundError
from orders_service.idempotency.once import keyed_write
from orders_service.items.schemas import (
    ITEM_PAGE,
    ItemCreate,
    ItemListQuery,
    ItemPage,
    ItemRead,
    ItemUpdate,
    StockAdjustment,
)
from orders_service.items.service import ItemService, read_item, render
from orders_service.permissions import (
    CanCreateItems,
    CanDeleteItems,
    CanReadItems,
    CanUpdateItems,
    Permission,
    actor_of,
    check,
)
from orders_service.preconditions import IfMatch, none_match
from orders_service.reads import ReadSessionDep
from servicekit.auth import InvalidToken, TokenVerifier, bearer_token
from servicekit.auth.dependencies import VERIFIER_KEY
from servicekit.db import SessionDep
from servicekit.docs import idempotency_key
from servicekit.problems import ProblemError

PREFIX = "/api/v1/items"
router = APIRouter(prefix=PREFIX, tags=["items"])

IfMatchHeader = Annotated[
    str | None,
    Header(description='The ETag last read ("<version>"); a stale one answers 412.'),
]
IfNoneMatchHeader = Annotated[str | None, Header()]


@router.post(
    "",
    status_code=201,
    response_model=None,
    responses={201: {"model": ItemRead, "description": "Created; Location names the item"}},
    openapi_extra={**documented_body(ItemCreate), **idempotency_key(required=False)},
)
async def create_item(request: Request, session: SessionDep, caller: CanCreateItems) -> Response:
    data = await json_body(request, ItemCreate)
    actor = actor_of(caller)

    async def write() -> Response:
        item = await ItemService(session, actor).create(data)
        rendered = render(item)
        headers = {"Location": f"{PREFIX}/{item.id}", "ETag": rendered.etag}
        return json_response(rendered.body, status=201, headers=headers)

    return await keyed_write(request, session, actor, write)


@router.get("", response_model=None, responses={200: {"model": ItemPage}})
async def list_items(
    request: Request,
    query: Annotated[ItemListQuery, Query()],
    session: ReadSessionDep,
    caller: CanReadItems,
) -> Response:
    page = await ItemService(session, actor_of(caller)).list_page(query)
    body = ITEM_PAGE.dump_json(
        {
            "items": [ItemRead.from_model(item) for item in page.items],
            "next": next_link(request, page.next_cursor),
        }
    )
    return json_response(body)


@router.get(
    "/{item_id}",
    response_model=None,
    responses={200: {"model": ItemRead}, 304: {"description": "If-None-Match names the ETag"}},
    description="Served from a read-through cache (Redis, and a short in-process layer); "
    "every change of the item invalidates it before the change is answered, so a read after "
    "a write always shows the write. If Redis is unavailable the item is read from the "
    "database.",
)
async def get_item(
    item_id: uuid.UUID,
    request: Request,
    caller: CanReadItems,
    if_none_match: IfNoneMatchHeader = None,
) -> Response:
    tenant_id = actor_of(caller).tenant_id
    rendered = await read_item(request.app.state.resources, tenant_id=tenant_id, item_id=item_id)
    if rendered is None:
        raise ItemNotFoundError(item_id)
    if none_match(if_none_match, rendered.etag):
        return Response(status_code=304, headers={"ETag": rendered.etag})
    return json_response(rendered.body, headers={"ETag": rendered.etag})


@router.patch(
    "/{item_id}",
    response_model=None,
    responses={
        200: {"model": ItemRead},
        412: {"description": "If-Match names a stale version"},
        428: {"description": "quantity changes without If-Match"},
    },
    openapi_extra={**documented_body(ItemUpdate), **idempotency_key(required=False)},
)
async def update_item(
    item_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    caller: CanUpdateItems,
    if_match: IfMatchHeader = None,
) -> Response:
    patch = await json_body(request, ItemUpdate)
    actor = actor_of(caller)

    async def write() -> Response:
        item = await ItemService(session, actor).update(
            item_id, patch, if_match=IfMatch.parse(if_match)
        )
        rendered = render(item)
        return json_response(rendered.body, headers={"ETag": rendered.etag})

    return await keyed_write(request, session, actor, write)


@router.post(
    "/{item_id}/stock-adjustments",
    response_model=None,
    responses={
        200: {"model": ItemRead, "description": "The item after the adjustment"},
        409: {"description": "The stock would go below zero; nothing changed"},
    },
    openapi_extra={**documented_body(StockAdjustment), **idempotency_key(required=False)},
)
async def adjust_stock(
    item_id: uuid.UUID, request: Request, session: SessionDep, caller: CanUpdateItems
) -> Response:
    adjustment = await json_body(request, StockAdjustment)
    actor = actor_of(caller)

    async def write() -> Response:
        item = await ItemService(session, actor).adjust_stock(item_id, adjustment)
        rendered = render(item)
        return json_response(rendered.body, headers={"ETag": rendered.etag})

    return await keyed_write(request, session, actor, write)


@router.delete("/{item_id}", status_code=204, response_model=None)
async def delete_item(
    item_id: uuid.UUID,
    session: SessionDep,
    caller: CanDeleteItems,
    if_match: IfMatchHeader = None,
) -> Response:
    await ItemService(session, actor_of(caller)).delete(item_id, if_match=IfMatch.parse(if_match))
    return Response(status_code=204)


# -- GET /items/{id} before routing --------------------------------------------------------

_ITEM_PATH = PREFIX + "/"
_ITEM_TEMPLATE = PREFIX + "/{item_id}"
_UUID_LENGTH = 36
_JSON = (b"content-type", b"application/json")


class ItemReads:
    """Pure ASGI: serve `GET /api/v1/items/{id}` for an authorized caller without routing.

    The item read is the hottest request and its answer is cached; with routing and
    dependency solving (most of a FastAPI request's time) out of the way, a hit of the
    in-process layer costs a few microseconds of our own code. It does what `get_item` does,
    with the same functions: the bearer token through the app's verifier (verified claims
    are cached by token hash), `items:read` and a usable identity, then `read_item` (cache,
    else database) and the same 200/304/404 answers; errors go through the app's own
    exception handlers. Whatever it is not sure of (no or bad token, a missing permission,
    an id not in canonical form) goes on to the route, which answers it (401, 403, 422).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._route: BaseRoute | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and len(scope["path"]) == len(_ITEM_PATH) + _UUID_LENGTH
            and scope["path"].startswith(_ITEM_PATH)
        ):
            caller = await self._authorized(scope)
            if caller is not None:
                await self._read(scope, receive, send, *caller)
                return
        await self.app(scope, receive, send)

    async def _authorized(self, scope: Scope) -> tuple[str, uuid.UUID, bytes | None] | None:
        """(tenant, item id, If-None-Match) when this request is an allowed item read."""
        raw_id = scope["path"][len(_ITEM_PATH) :]
        try:
            item_id = uuid.UUID(raw_id)
        except ValueError:
            return None
        if str(item_id) != raw_id:
            return None  # another spelling of an id: the route decides what it means
        authorization = if_none_match = None
        for name, value in scope["headers"]:  # the first of each, as Request.headers.get
            if name == b"authorization":
                authorization = authorization or value
            elif name == b"if-none-match":
                if_none_match = if_none_match or value
        token = bearer_token(authorization.decode("latin-1")) if authorization else None
        if token is None:
            return None
        verifier: TokenVerifier = scope["app"].state.resources.extras[VERIFIER_KEY]
        try:
            principal = await verifier.verify(token)
            check(principal.roles, Permission.ITEMS_READ)
            actor = actor_of(principal)
        except (InvalidToken, ProblemError):
            return None
        return actor.tenant_id, item_id, if_none_match

    async def _read(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        tenant_id: str,
        item_id: uuid.UUID,
        if_none_match: bytes | None,
    ) -> None:
        # Labelled with the route's template in the request metrics, as if it had run.
        scope["route"] = self._route or self._find_route(scope)
        try:
            rendered = await read_item(
                scope["app"].state.resources, tenant_id=tenant_id, item_id=item_id
            )
            if rendered is None:
                raise ItemNotFoundError(item_id)
        except Exception as exc:  # noqa: BLE001 - answered by the app's own handlers
            await self._error(scope, receive, send, exc)
            return
        etag = rendered.etag.encode("latin-1")
        if if_none_match is not None and none_match(if_none_match.decode("latin-1"), rendered.etag):
            await send({"type": "http.response.start", "status": 304, "headers": [(b"etag", etag)]})
            await send({"type": "http.response.body", "body": b""})
            return
        headers = [(b"content-length", b"%d" % len(rendered.body)), _JSON, (b"etag", etag)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": rendered.body})

    async def _error(self, scope: Scope, receive: Receive, send: Send, exc: Exception) -> None:
        """Answer `exc` as the app would: its handler for the nearest class (problem+json)."""
        handlers = scope["app"].exception_handlers
        handler = next((handlers[c] for c in type(exc).__mro__ if c in handlers), None)
        if handler is None:
            raise exc
        response = await handler(Request(scope, receive), exc)
        await response(scope, receive, send)

    def _find_route(self, scope: Scope) -> BaseRoute | None:
        for context in iter_route_contexts(scope["app"].router.routes):
            route = context.original_route
            is_get = isinstance(route, APIRoute) and "GET" in (route.methods or ())
            if is_get and context.path_format == _ITEM_TEMPLATE:
                self._route = route
                return route
        return None
