"""/api/v1/items: thin handlers over ItemService."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from starlette.responses import Response

from orders_service._http import documented_body, json_body, json_response
from orders_service.errors import ItemNotFoundError
from orders_service.idempotency.once import keyed_write
from orders_service.items.cache import read_item
from orders_service.items.schemas import (
    ItemCreate,
    ItemListQuery,
    ItemPage,
    ItemRead,
    ItemUpdate,
    StockAdjustment,
    page_json,
)
from orders_service.items.service import ItemService, render
from orders_service.permissions import (
    CanCreateItems,
    CanDeleteItems,
    CanReadItems,
    CanUpdateItems,
    actor_of,
)
from orders_service.preconditions import IfMatch, none_match
from orders_service.reads import read_only_session
from orders_service.state import OrdersState
from servicekit.core.state import service_state
from servicekit.data.db import SessionDep
from servicekit.verify import Principal
from servicekit.web.context import RequestContext, context_of
from servicekit.web.docs import idempotency_key
from servicekit.web.fastpath import Answer, fast_query, fast_read
from servicekit.web.paging import next_link

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


async def serve_item_page(request: Request, caller: Principal, query: ItemListQuery) -> Answer:
    """GET /items for an authorized caller: the route and the fast path both call this."""
    engine = service_state(request.app, OrdersState).resources.engine
    async with read_only_session(engine) as session:
        page = await ItemService(session, actor_of(caller)).list_page(query)
    body = page_json(page.items, next_link(request, page.next_cursor))
    return Answer(200, body, [_JSON])


@router.get("", response_model=None, responses={200: {"model": ItemPage}})
@fast_query(serve_item_page, model=ItemListQuery)
async def list_items(
    request: Request, query: Annotated[ItemListQuery, Query()], caller: CanReadItems
) -> Response:
    return (await serve_item_page(request, caller, query)).response()


async def serve_item(ctx: RequestContext, caller: Principal, item_id: uuid.UUID) -> Answer:
    """GET /items/{id} for an authorized caller: the route and the fast path both call this."""
    state = service_state(ctx.app, OrdersState)
    rendered = await read_item(
        state.item_cache,
        state.resources.engine,
        tenant_id=actor_of(caller).tenant_id,
        item_id=item_id,
    )
    if rendered is None:
        raise ItemNotFoundError(item_id)
    etag = (b"etag", rendered.etag.encode("latin-1"))
    if_none_match = ctx.header(b"if-none-match")
    if if_none_match is not None and none_match(if_none_match.decode("latin-1"), rendered.etag):
        return Answer(304, headers=[etag])
    return Answer(200, rendered.body, [_JSON, etag])


_JSON = (b"content-type", b"application/json")


@router.get(
    "/{item_id}",
    response_model=None,
    responses={200: {"model": ItemRead}, 304: {"description": "If-None-Match names the ETag"}},
    description="Served from a read-through cache (Redis, and a short in-process layer); "
    "every change of the item invalidates it before the change is answered, so a read after "
    "a write always shows the write. If Redis is unavailable the item is read from the "
    "database.",
)
@fast_read(serve_item)
async def get_item(
    item_id: uuid.UUID,
    request: Request,
    caller: CanReadItems,
    if_none_match: IfNoneMatchHeader = None,  # documented; serve_item reads it from the context
) -> Response:
    answer = await serve_item(context_of(request.scope), caller, item_id)
    return answer.response()


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
