"""The declared fast path: a `@fast_read` or `@fast_query` route is served before routing
through the same function the route calls, with the route's own permission; what it cannot
decide goes to the route, which answers from the same request context (one verification per
request)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import AsyncExitStack
from typing import Annotated, Literal

import pytest
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict, Field
from starlette.middleware import Middleware
from starlette.responses import Response
from starlette.types import Message

from servicekit.core.settings import ServiceSettings
from servicekit.verify import Principal, TokenVerifier
from servicekit.web.app import ServiceResources, ServiceState, create_service_app
from servicekit.web.context import RequestContext, context_of
from servicekit.web.fastpath import Answer, FastPathMiddleware, fast_query, fast_read
from servicekit.web.security import Permission, requires
from tests.support.tokens import AUDIENCE, ISSUER, TestIssuer

ISSUER_KEYS = TestIssuer()
READ = Permission(name="things:read", minimum_role="viewer")


class CountingVerifier(TokenVerifier):
    calls = 0

    async def verify(self, token: str) -> Principal:
        CountingVerifier.calls += 1
        return await super().verify(token)


class Counts:
    route_dependency = 0


async def serve_thing(ctx: RequestContext, caller: Principal, thing_id: uuid.UUID) -> Answer:
    body = f'{{"id": "{thing_id}", "tenant": "{caller.tenant_id}"}}'.encode()
    return Answer(200, body, [(b"content-type", b"application/json")])


class ThingQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["a", "b"] | None = None
    limit: Annotated[int, Field(ge=1, le=10)] = 5


async def serve_things(request: Request, caller: Principal, query: ThingQuery) -> Answer:
    # What the caller and the query were, and the raw query the route saw (for the `next`).
    body = query.model_dump_json(include={"kind", "limit"}).encode()
    return Answer(200, body, [(b"content-type", b"application/json")])


def counted() -> None:
    Counts.route_dependency += 1  # runs only when the request went through routing


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    router = APIRouter(prefix="/things")

    @router.get("/{thing_id}", dependencies=[Depends(counted)])
    @fast_read(serve_thing)
    async def get_thing(
        thing_id: uuid.UUID,
        request: Request,
        caller: Annotated[Principal, Depends(requires(READ))],
    ) -> Response:
        return (await serve_thing(context_of(request.scope), caller, thing_id)).response()

    @router.get("", dependencies=[Depends(counted)])
    @fast_query(serve_things, model=ThingQuery)
    async def list_things(
        request: Request,
        query: Annotated[ThingQuery, Query()],
        caller: Annotated[Principal, Depends(requires(READ))],
    ) -> Response:
        return (await serve_things(request, caller, query)).response()

    async def state(resources: ServiceResources, _stack: AsyncExitStack) -> ServiceState:
        verifier = CountingVerifier(
            key_source=ISSUER_KEYS.static_source(), issuer=ISSUER, audience=AUDIENCE
        )
        return ServiceState(resources=resources, verifier=verifier)

    app = create_service_app(
        settings=ServiceSettings(service_name="t"),
        title="t",
        version="0",
        routers=[router],
        state=state,
        middleware=[Middleware(FastPathMiddleware)],
    )
    with TestClient(app) as test_client:
        yield test_client


def _auth(*roles: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + ISSUER_KEYS.issue(roles=list(roles))}


def test_an_allowed_read_is_served_before_routing_by_the_routes_function(
    client: TestClient,
) -> None:
    thing = uuid.uuid4()
    before = Counts.route_dependency
    r = client.get(f"/things/{thing}", headers=_auth("viewer"))
    assert r.status_code == 200
    assert r.json() == {"id": str(thing), "tenant": "tenant-a"}
    assert r.headers["content-length"] == str(len(r.content))
    assert Counts.route_dependency == before  # no routing, no dependency solving


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        (f"/things/{uuid.uuid4()}", {}, 401),
        (f"/things/{uuid.uuid4()}", {"Authorization": "Bearer a.b.c"}, 401),
        (f"/things/{uuid.uuid4()}".upper(), None, 200),  # another spelling: the route's call
        ("/things/not-a-uuid", None, 422),
    ],
    ids=["no-token", "bad-token", "upper-case-id", "bad-id"],
)
def test_what_the_fast_path_cannot_decide_goes_to_the_route(
    client: TestClient, path: str, headers: dict[str, str] | None, status: int
) -> None:
    before = Counts.route_dependency
    CountingVerifier.calls = 0
    sent = headers if headers is not None else _auth("viewer")
    r = client.get(path.replace("/THINGS/", "/things/"), headers=sent)
    assert r.status_code == status, r.text
    assert Counts.route_dependency == before + 1
    # Verified once (none without a token), by whichever step asked first.
    assert CountingVerifier.calls == (0 if headers == {} else 1)


def test_a_caller_without_the_permission_gets_the_routes_403(client: TestClient) -> None:
    r = client.get(f"/things/{uuid.uuid4()}", headers=_auth("auditor"))
    assert r.status_code == 403
    assert r.headers["content-type"] == "application/problem+json"


def test_an_allowed_list_query_is_served_before_routing_with_the_models_values(
    client: TestClient,
) -> None:
    before = Counts.route_dependency
    r = client.get("/things?kind=b&limit=3", headers=_auth("viewer"))
    assert r.status_code == 200, r.text
    assert r.json() == {"kind": "b", "limit": 3}
    r = client.get("/things", headers=_auth("viewer"))
    assert r.json() == {"kind": None, "limit": 5}  # the model's defaults
    assert Counts.route_dependency == before


@pytest.mark.parametrize(
    ("query", "headers", "status"),
    [
        ("kind=c", None, 422),  # invalid value: the route's 422 names it
        ("limit=0", None, 422),
        ("kind=", None, 422),  # blank is a value, as FastAPI reads it
        ("colour=red", None, 422),  # unknown parameter (extra="forbid")
        ("kind=a&kind=b", None, 200),  # repeated: FastAPI's reading (the last one), not ours
        ("kind=%ff", None, 422),  # not UTF-8 once decoded: the route's call
        ("kind=a", {}, 401),
        ("kind=a", {"Authorization": "Bearer a.b.c"}, 401),
        ("kind=a", "auditor", 403),
    ],
    ids=[
        "bad-value",
        "bad-limit",
        "blank",
        "unknown",
        "repeated",
        "bad-utf8",
        "no-token",
        "bad-token",
        "no-permission",
    ],
)
def test_what_the_list_fast_path_cannot_decide_goes_to_the_route(
    client: TestClient, query: str, headers: dict[str, str] | str | None, status: int
) -> None:
    before = Counts.route_dependency
    CountingVerifier.calls = 0
    # None: a viewer's token; a role name: that role's token; a dict: those headers.
    sent = headers if isinstance(headers, dict) else _auth(headers or "viewer")
    r = client.get(f"/things?{query}", headers=sent)
    assert r.status_code == status, r.text
    assert Counts.route_dependency == before + 1
    assert CountingVerifier.calls == (0 if headers == {} else 1)
    if status == 200:
        assert r.json() == {"kind": "b", "limit": 5}


class ListQuery(BaseModel):
    tags: list[str] = []


def test_a_fast_query_model_has_scalar_fields_only() -> None:
    with pytest.raises(ValueError, match="scalar fields"):
        fast_query(serve_things, model=ListQuery)


def test_a_fast_query_needs_a_declared_permission() -> None:
    app = FastAPI()

    @app.get("/open")
    @fast_query(serve_things, model=ThingQuery)
    async def open_list(query: Annotated[ThingQuery, Query()]) -> Response:
        return Response()

    middleware = FastPathMiddleware(app)
    scope = {"type": "http", "method": "GET", "path": "/open", "app": app, "headers": []}
    with pytest.raises(ValueError, match="needs a declared permission"):
        asyncio.run(middleware(scope, _never_receive, _never_send))


async def _never_receive() -> Message:
    raise AssertionError("not reached")


async def _never_send(message: Message) -> None:
    raise AssertionError("not reached")
