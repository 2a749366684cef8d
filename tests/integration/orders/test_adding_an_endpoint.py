"""docs/adding-an-endpoint.md, by example: one repository method, one permission, one route.

The example endpoint is built here exactly as the document shows and added to the real orders
app; the test checks what the document promises comes for free (200, 404 across tenants,
401/403 problems, and the OpenAPI security and role).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col
from starlette.responses import Response

from orders_service._http import json_response
from orders_service.errors import ItemNotFoundError
from orders_service.items.models import Item
from orders_service.items.repository import ItemRepository
from orders_service.items.schemas import ItemRead
from orders_service.items.service import render
from orders_service.main import create_app
from orders_service.permissions import CanReadItems, actor_of
from orders_service.settings import OrdersSettings
from servicekit.data.db import SessionDep
from tests.support.backends import Backends
from tests.support.ids import new_tenant
from tests.support.orders import make_item
from tests.support.tokens import AUDIENCE, ISSUER, TestIssuer, serve_jwks

ISSUER_KEYS = TestIssuer()


# 1. One repository method (in the document: on ItemRepository itself).
class SkuItems(ItemRepository):
    async def by_sku(self, sku: str) -> Item | None:
        """This tenant's live item with `sku`, if any."""
        stmt = self.select().where(col(Item.sku) == sku)
        return (await self.session.execute(stmt.limit(1))).scalars().first()


# 2. One permission: items:read, as CanReadItems. 3. One route function.
router = APIRouter(prefix="/api/v1/items", tags=["items"])


@router.get("/by-sku/{sku}", response_model=None, responses={200: {"model": ItemRead}})
async def get_item_by_sku(sku: str, session: SessionDep, caller: CanReadItems) -> Response:
    item = await SkuItems(session, tenant_id=actor_of(caller).tenant_id).by_sku(sku)
    if item is None:
        raise ItemNotFoundError(sku)
    rendered = render(item)
    return json_response(rendered.body, headers={"ETag": rendered.etag})


@pytest.fixture(scope="module")
def client(orders_database_url: str, backends: Backends) -> Iterator[TestClient]:
    with serve_jwks(ISSUER_KEYS) as jwks:
        settings = OrdersSettings(
            environment="test",
            database_url=orders_database_url,
            redis_url=backends.redis_url,
            cache_namespace=f"test:{uuid.uuid4().hex[:12]}:cache:",
            idempotency_namespace=f"test:{uuid.uuid4().hex[:12]}:idem:",
            jwks_url=jwks.url,
            jwt_issuer=ISSUER,
            jwt_audience=AUDIENCE,
        )
        app = create_app(settings)
        app.include_router(router)
        with TestClient(app) as test_client:
            yield test_client


def _auth(tenant: str, *roles: str) -> dict[str, str]:
    token = ISSUER_KEYS.issue(tenant_id=tenant, roles=list(roles))
    return {"Authorization": f"Bearer {token}"}


async def test_the_documented_endpoint_answers_as_the_document_says(
    client: TestClient, orders_engine: AsyncEngine
) -> None:
    tenant = new_tenant()
    item = make_item(tenant_id=tenant)
    async with orders_engine.begin() as conn:
        await conn.execute(Item.__table__.insert().values(**item.model_dump()))  # type: ignore[attr-defined]
    url = f"/api/v1/items/by-sku/{item.sku}"

    found = client.get(url, headers=_auth(tenant, "viewer"))
    assert found.status_code == 200, found.text
    assert found.json()["sku"] == item.sku
    assert found.headers["etag"] == '"1"'

    other_tenant = client.get(url, headers=_auth(new_tenant(), "viewer"))
    assert other_tenant.status_code == 404
    assert other_tenant.headers["content-type"] == "application/problem+json"

    anonymous = client.get(url)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    no_permission = client.get(url, headers=_auth(tenant, "auditor"))
    assert no_permission.status_code == 403
    assert no_permission.json()["missing_permission"] == "items:read"


def test_the_documented_endpoint_documents_its_security(client: TestClient) -> None:
    op = client.get("/openapi.json").json()["paths"]["/api/v1/items/by-sku/{sku}"]["get"]
    assert op["security"] == [{"bearerAuth": []}]
    assert op["x-required-role"] == "viewer"
    assert {"401", "403"} <= op["responses"].keys()
