"""/api/v1/clients: service clients of the caller's tenant (admins only)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from auth_service._paging import PageQuery
from auth_service.clients import service
from auth_service.clients._cache import CredentialsCache
from auth_service.clients.models import ServiceClient
from auth_service.clients.permissions import AdminDep
from auth_service.clients.schemas import (
    ClientCreate,
    ClientPage,
    ClientRead,
    ClientUpdate,
    ClientWithSecret,
)
from auth_service.dependencies import get_auth_state
from servicekit.db import SessionDep

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
    data: ClientCreate, admin: AdminDep, session: SessionDep, response: Response
) -> ClientWithSecret:
    client, secret = await service.create_client(
        session, data=data, tenant_id=admin.tenant_id, now=datetime.now(UTC)
    )
    response.headers["Location"] = f"{router.prefix}/{client.client_id}"
    response.headers["Cache-Control"] = NO_STORE
    return _with_secret(client, secret)


@router.get("", response_model=ClientPage, summary="Service clients of your tenant")
async def list_clients(
    admin: AdminDep, session: SessionDep, page: Annotated[PageQuery, Query()]
) -> ClientPage:
    clients, total = await service.list_clients(
        session, tenant_id=admin.tenant_id, limit=page.limit, offset=page.offset
    )
    return ClientPage(
        items=[ClientRead.model_validate(c) for c in clients],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/{client_id}", response_model=ClientRead, summary="One service client")
async def get_client(client_id: str, admin: AdminDep, session: SessionDep) -> ClientRead:
    client = await service.get_client(session, client_id=client_id, tenant_id=admin.tenant_id)
    return ClientRead.model_validate(client)


@router.patch("/{client_id}", response_model=ClientRead, summary="Rename, change roles, disable")
async def update_client(
    client_id: str, data: ClientUpdate, admin: AdminDep, session: SessionDep, request: Request
) -> ClientRead:
    client = await service.update_client(
        session, client_id=client_id, tenant_id=admin.tenant_id, data=data, now=datetime.now(UTC)
    )
    _forget(request, client_id)
    return ClientRead.model_validate(client)


def _forget(request: Request, client_id: str) -> None:
    """This replica stops using its cached row at once (others within their cache TTL)."""
    cache: CredentialsCache = get_auth_state(request).client_cache
    cache.invalidate(client_id)


@router.post(
    "/{client_id}/secret",
    response_model=ClientWithSecret,
    summary="Replace the client's secret; the new one is shown in this answer only",
)
async def rotate_secret(
    client_id: str, admin: AdminDep, session: SessionDep, response: Response, request: Request
) -> ClientWithSecret:
    client, secret = await service.rotate_secret(
        session, client_id=client_id, tenant_id=admin.tenant_id, now=datetime.now(UTC)
    )
    _forget(request, client_id)
    response.headers["Cache-Control"] = NO_STORE
    return _with_secret(client, secret)
