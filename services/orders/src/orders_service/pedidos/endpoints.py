"""/api/v1/pedidos: thin handlers over PedidoService."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from orders_service._http import (
    documented_body,
    json_body,
    json_response,
    optional_json_body,
)
from orders_service.idempotency.once import keyed_write
from orders_service.pedidos.models import Pedido
from orders_service.pedidos.schemas import (
    PEDIDO_PAGE,
    PedidoCancel,
    PedidoCreate,
    PedidoLineCreate,
    PedidoListQuery,
    PedidoPage,
    PedidoRead,
)
from orders_service.pedidos.service import PedidoService
from orders_service.permissions import (
    CanCancelPedidos,
    CanConfirmPedidos,
    CanCreatePedidos,
    CanFulfilPedidos,
    CanReadPedidos,
    Permission,
    actor_of,
)
from orders_service.preconditions import etag_for
from servicekit.data.db import SessionDep
from servicekit.web.docs import idempotency_key
from servicekit.web.paging import next_link

PREFIX = "/api/v1/pedidos"
CONFIRM = "/{pedido_id}/confirm"
router = APIRouter(prefix=PREFIX, tags=["pedidos"])

# (method, route template) of the writes that refuse to run without an Idempotency-Key;
# every other POST and PATCH under /api/v1 accepts one (IdempotencyMiddleware, main.py).
KEY_REQUIRED = frozenset({("POST", PREFIX), ("POST", PREFIX + CONFIRM)})
# What each of them needs: a caller without it gets 403 even when it sent no key.
KEY_REQUIRED_PERMISSIONS = {
    ("POST", PREFIX): Permission.PEDIDOS_CREATE,
    ("POST", PREFIX + CONFIRM): Permission.PEDIDOS_CONFIRM,
}

_PEDIDO: dict[int | str, dict[str, Any]] = {200: {"model": PedidoRead}}
_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "Illegal in the current state (named in the problem)"}
}


def _pedido_response(
    pedido: Pedido, *, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    body = PedidoRead.from_model(pedido).model_dump_json().encode()
    return json_response(
        body, status=status, headers={"ETag": etag_for(pedido.version), **(headers or {})}
    )


@router.post(
    "",
    status_code=201,
    response_model=None,
    responses={201: {"model": PedidoRead, "description": "Created; Location names the pedido"}},
    openapi_extra={**documented_body(PedidoCreate), **idempotency_key(required=True)},
)
async def create_pedido(
    request: Request, session: SessionDep, caller: CanCreatePedidos
) -> Response:
    data = await json_body(request, PedidoCreate)
    actor = actor_of(caller)

    async def write() -> Response:
        pedido = await PedidoService(session, actor).create(data)
        return _pedido_response(pedido, status=201, headers={"Location": f"{PREFIX}/{pedido.id}"})

    return await keyed_write(request, session, actor, write)


@router.get("", response_model=None, responses={200: {"model": PedidoPage}})
async def list_pedidos(
    request: Request,
    query: Annotated[PedidoListQuery, Query()],
    session: SessionDep,
    caller: CanReadPedidos,
) -> Response:
    page = await PedidoService(session, actor_of(caller)).list_page(query)
    body = PEDIDO_PAGE.dump_json(
        {
            "items": [PedidoRead.from_model(pedido) for pedido in page.items],
            "next": next_link(request, page.next_cursor),
        }
    )
    return json_response(body)


@router.get("/{pedido_id}", response_model=None, responses=_PEDIDO)
async def get_pedido(pedido_id: uuid.UUID, session: SessionDep, caller: CanReadPedidos) -> Response:
    return _pedido_response(await PedidoService(session, actor_of(caller)).get(pedido_id))


@router.post(
    "/{pedido_id}/items",
    status_code=201,
    response_model=None,
    responses={201: {"model": PedidoRead}, **_CONFLICT},
    openapi_extra={**documented_body(PedidoLineCreate), **idempotency_key(required=False)},
)
async def add_line(
    pedido_id: uuid.UUID, request: Request, session: SessionDep, caller: CanCreatePedidos
) -> Response:
    line = await json_body(request, PedidoLineCreate)
    actor = actor_of(caller)

    async def write() -> Response:
        pedido = await PedidoService(session, actor).add_line(pedido_id, line)
        added = pedido.lines[-1]
        return _pedido_response(
            pedido, status=201, headers={"Location": f"{PREFIX}/{pedido.id}/items/{added.id}"}
        )

    return await keyed_write(request, session, actor, write)


@router.delete(
    "/{pedido_id}/items/{line_id}",
    response_model=None,
    responses={**_PEDIDO, **_CONFLICT},
)
async def remove_line(
    pedido_id: uuid.UUID, line_id: uuid.UUID, session: SessionDep, caller: CanCreatePedidos
) -> Response:
    pedido = await PedidoService(session, actor_of(caller)).remove_line(pedido_id, line_id)
    return _pedido_response(pedido)


@router.post(
    CONFIRM,
    response_model=None,
    responses={**_PEDIDO, **_CONFLICT},
    openapi_extra=idempotency_key(required=True),
)
async def confirm_pedido(
    pedido_id: uuid.UUID, request: Request, session: SessionDep, caller: CanConfirmPedidos
) -> Response:
    actor = actor_of(caller)

    async def write() -> Response:
        return _pedido_response(await PedidoService(session, actor).confirm(pedido_id))

    return await keyed_write(request, session, actor, write)


@router.post(
    "/{pedido_id}/cancel",
    response_model=None,
    responses={**_PEDIDO, **_CONFLICT},
    openapi_extra={
        **documented_body(PedidoCancel, required=False),
        **idempotency_key(required=False),
    },
)
async def cancel_pedido(
    pedido_id: uuid.UUID, request: Request, session: SessionDep, caller: CanCancelPedidos
) -> Response:
    body = await optional_json_body(request, PedidoCancel)
    reason = body.reason if body is not None else None
    actor = actor_of(caller)

    async def write() -> Response:
        pedido = await PedidoService(session, actor).cancel(pedido_id, reason=reason)
        return _pedido_response(pedido)

    return await keyed_write(request, session, actor, write)


def _fulfilment_route(action: str) -> None:
    async def endpoint(
        pedido_id: uuid.UUID, request: Request, session: SessionDep, caller: CanFulfilPedidos
    ) -> Response:
        actor = actor_of(caller)

        async def write() -> Response:
            pedido = await PedidoService(session, actor).advance(pedido_id, action)
            return _pedido_response(pedido)

        return await keyed_write(request, session, actor, write)

    endpoint.__name__ = f"{action}_pedido"
    router.add_api_route(
        f"/{{pedido_id}}/{action}",
        endpoint,
        methods=["POST"],
        response_model=None,
        responses={**_PEDIDO, **_CONFLICT},
        name=f"{action}_pedido",
        openapi_extra=idempotency_key(required=False),
    )


for _action in ("process", "ship", "deliver"):
    _fulfilment_route(_action)
