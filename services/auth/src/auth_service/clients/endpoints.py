"""/api/v1/clients: service clients of the caller's tenant (admins only)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from auth_service.clients.models import ServiceClient
from auth_service.clients.schemas import (
    ClientCreate,
    ClientListQuery,
    ClientPage,
    ClientRead,
    ClientUpdate,
    ClientWithSecret,
)
from auth_service.dependencies import ClientServiceDep, CursorSignerDep
from servicekit.web.paging import next_link

router = APIRouter(prefix="/api/v1/clients", tags=["clients"])

# The one answer that carries a secret must not be stored by any cache.
NO_STORE = "no-store"


def _with_secret(client: ServiceClient, secret: str) -> ClientWithSecret:
    return ClientWithSecret(**ClientRead.model_validate(client).model_dump(), client_secret=secret)


@router.post(
    "",
    status_code=201,
    response_model=ClientWithSecret,
    summary="Create a service client; its secret is shown in this answer only",
)
async def create_client(
    data: ClientCreate, clients: ClientServiceDep, response: Response
) -> ClientWithSecret:
    client, secret = await clients.create(data, now=datetime.now(UTC))
    response.headers["Location"] = f"{router.prefix}/{client.client_id}"
    response.headers["Cache-Control"] = NO_STORE
    return _with_secret(client, secret)


@router.get(
    "",
    response_model=ClientPage,
    summary="Service clients of your tenant, oldest first",
    description="Cursor pages: follow `next` (a relative URL, null on the last page); a "
    "cursor this list did not issue is a 400 problem.",
    responses={400: {"description": "The cursor is not one this list issued"}},
)
async def list_clients(
    request: Request,
    clients: ClientServiceDep,
    signer: CursorSignerDep,
    query: Annotated[ClientListQuery, Query()],
) -> ClientPage:
    page = await clients.list_page(query, signer=signer)
    return ClientPage(
        items=[ClientRead.model_validate(c) for c in page.items],
        next=next_link(request, page.next_cursor),
    )


@router.get("/{client_id}", response_model=ClientRead, summary="One service client")
async def get_client(client_id: str, clients: ClientServiceDep) -> ClientRead:
    return ClientRead.model_validate(await clients.get(client_id))


@router.patch("/{client_id}", response_model=ClientRead, summary="Rename, change roles, disable")
async def update_client(
    client_id: str, data: ClientUpdate, clients: ClientServiceDep
) -> ClientRead:
    client = await clients.update(client_id, data, now=datetime.now(UTC))
    return ClientRead.model_validate(client)


@router.post(
    "/{client_id}/secret",
    response_model=ClientWithSecret,
    summary="Replace the client's secret; the new one is shown in this answer only",
)
async def rotate_secret(
    client_id: str, clients: ClientServiceDep, response: Response
) -> ClientWithSecret:
    client, secret = await clients.rotate_secret(client_id, now=datetime.now(UTC))
    response.headers["Cache-Control"] = NO_STORE
    return _with_secret(client, secret)
