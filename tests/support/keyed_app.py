"""A small FastAPI app behind IdempotencyMiddleware whose handlers write rows to PostgreSQL.

It stands in for orders' write routes: `POST /api/v1/pedidos` and `.../confirm` require a
key, `POST /api/v1/items` and `PATCH /api/v1/items/{id}` accept one. Callers authenticate with
`Authorization: Bearer <tenant>.<subject>` (verified by a stand-in for servicekit.verify);
every handler run is counted and writes one row, so a test can see what ran.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

import asyncpg
import httpx
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from redis.asyncio import Redis
from starlette.types import Scope

from servicekit.core.jsonutil import dumps
from servicekit.core.problems import ProblemError, install_problem_handlers
from servicekit.data.cache import RedisCache
from servicekit.web.idempotency import IdempotencyMiddleware
from tests.support.backends import asyncpg_dsn, create_database, drop_database

REQUIRED = {("POST", "/api/v1/pedidos"), ("POST", "/api/v1/pedidos/{pedido_id}/confirm")}

TABLE = """
CREATE TABLE writes (
    id uuid PRIMARY KEY,
    tenant text NOT NULL,
    subject text NOT NULL,
    route text NOT NULL,
    payload text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True)
class CallerPrincipal:
    subject: str
    tenant_id: str


async def verify_token(token: str) -> CallerPrincipal:
    tenant, sep, subject = token.partition(".")
    if not sep or not tenant or not subject:
        raise ProblemError(401, detail="invalid token", headers={"WWW-Authenticate": "Bearer"})
    return CallerPrincipal(subject=subject, tenant_id=tenant)


async def principal(request: Request) -> CallerPrincipal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        raise ProblemError(401, detail="missing token", headers={"WWW-Authenticate": "Bearer"})
    return await verify_token(token)


PrincipalDep = Annotated[CallerPrincipal, Depends(principal)]


async def token_scope(scope: Scope) -> tuple[str, str] | None:
    """The test tokens' (tenant, subject) for the middleware; None when absent or invalid."""
    header = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
    scheme, _, token = header.decode("latin-1").partition(" ")
    if scheme.lower() != "bearer":
        return None
    try:
        caller = await verify_token(token.strip())
    except ProblemError:
        return None
    return caller.tenant_id, caller.subject


class Line(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item_id: str
    quantity: int = Field(gt=0)


class PedidoCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer_id: str
    items: list[Line] = Field(min_length=1)
    fail_with: int | None = None  # the handler answers this status (tests of unstored ones)


class ItemPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    quantity: int | None = None


@dataclass
class Controls:
    """What the handlers do, set by the test: hold them open, count their runs."""

    runs: int = 0
    reads: int = 0
    hold: asyncio.Event | None = None
    entered: asyncio.Event = field(default_factory=asyncio.Event)
    crash: bool = False


def build_keyed_app(
    *,
    pool: asyncpg.Pool,
    redis: Redis | Callable[[Scope], Redis],
    controls: Controls,
    cache: RedisCache | None = None,
    **middleware_options: Any,
) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/api/v1/writes/{row_id}")
    async def read_write(row_id: uuid.UUID, who: PrincipalDep) -> Response:
        """A cached read of one row, tenant in the key (what orders' item read will do)."""

        async def from_database() -> bytes:
            controls.reads += 1
            row = await pool.fetchrow(
                "SELECT id, route, payload FROM writes WHERE id = $1 AND tenant = $2",
                row_id,
                who.tenant_id,
            )
            if row is None:
                raise ProblemError(404, detail="no such row")
            return dumps({"id": str(row["id"]), "route": row["route"]})

        if cache is None:
            return Response(await from_database(), media_type="application/json")
        body = await cache.get_or_compute(
            f"write:{who.tenant_id}:{row_id}", from_database, base_ttl_s=300
        )
        return Response(body, media_type="application/json")

    async def record(who: CallerPrincipal, route: str, payload: dict[str, Any]) -> uuid.UUID:
        controls.runs += 1
        controls.entered.set()
        if controls.hold is not None:
            await controls.hold.wait()
        if controls.crash:
            raise RuntimeError("handler crashed")
        row_id = uuid.uuid4()
        await pool.execute(
            "INSERT INTO writes (id, tenant, subject, route, payload) VALUES ($1, $2, $3, $4, $5)",
            row_id,
            who.tenant_id,
            who.subject,
            route,
            json.dumps(payload),
        )
        return row_id

    @app.post("/api/v1/pedidos", status_code=201)
    async def create_pedido(body: PedidoCreate, who: PrincipalDep) -> JSONResponse:
        if body.fail_with is not None:
            controls.runs += 1
            return JSONResponse({"error": "as asked"}, status_code=body.fail_with)
        row_id = await record(who, "pedidos", body.model_dump())
        return JSONResponse(
            {"id": str(row_id), "customer_id": body.customer_id, "status": "pending"},
            status_code=201,
            headers={"Location": f"/api/v1/pedidos/{row_id}", "ETag": '"1"', "X-Other": "x"},
        )

    @app.post("/api/v1/pedidos/{pedido_id}/confirm")
    async def confirm(pedido_id: uuid.UUID, who: PrincipalDep) -> dict[str, str]:
        row_id = await record(who, "confirm", {"pedido_id": str(pedido_id)})
        return {"id": str(pedido_id), "status": "confirmed", "event": str(row_id)}

    @app.post("/api/v1/items", status_code=201)
    async def create_item(request: Request, who: PrincipalDep) -> dict[str, str]:
        raw = await request.body()
        row_id = await record(who, "items", {"raw": raw.decode("utf-8", "replace")})
        return {"id": str(row_id)}

    @app.patch("/api/v1/items/{item_id}")
    async def patch_item(item_id: uuid.UUID, body: ItemPatch, who: PrincipalDep) -> dict[str, Any]:
        row_id = await record(who, "patch", {"item_id": str(item_id), **body.model_dump()})
        return {"id": str(item_id), "event": str(row_id), **body.model_dump()}

    @app.post("/internal/echo")
    async def outside_prefix(request: Request) -> dict[str, str]:
        controls.runs += 1
        return {"ok": "yes"}

    options: dict[str, Any] = {
        "redis": redis,
        "scope_resolver": token_scope,
        "required": REQUIRED,
        # Generous on a shared, busy machine; the fault tests pass their own short one.
        "op_timeout_s": 5.0,
    }
    options.update(middleware_options)
    app.add_middleware(IdempotencyMiddleware, **options)
    return app


@asynccontextmanager
async def writes_database(server_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A private database with the one `writes` table, dropped afterwards."""
    url = await create_database(server_url, "test_idem")
    pool = await asyncpg.create_pool(asyncpg_dsn(url), min_size=1, max_size=20)
    try:
        await pool.execute(TABLE)
        yield pool
    finally:
        await pool.close()
        await drop_database(url)


def client_for(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def auth(tenant: str = "t1", subject: str = "alice", key: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {tenant}.{subject}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


async def count_rows(pool: asyncpg.Pool, *, tenant: str) -> int:
    """How many rows the handlers wrote for `tenant`."""
    return int(await pool.fetchval("SELECT count(*) FROM writes WHERE tenant = $1", tenant))
