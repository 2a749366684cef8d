"""Load scenarios. Each names the server it hits and may prepare data (tokens, rows) first."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlencode

from auth_service.clients import service as clients_service
from auth_service.clients.schemas import ClientCreate
from auth_service.settings import AuthSettings
from bench.stack import BenchStack
from servicekit.db import create_engine, create_sessionmaker


@dataclass(frozen=True)
class Request:
    path: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None


@dataclass(frozen=True)
class Scenario:
    name: str
    server: str  # "baseline" | "auth" | "orders"
    prepare: Callable[[BenchStack], Request]


def _fixed(path: str) -> Callable[[BenchStack], Request]:
    return lambda _stack: Request(path)


async def _create_client(database_url: str) -> tuple[str, str]:
    settings = AuthSettings(database_url=database_url)
    engine = create_engine(settings, application_name="bench")
    try:
        async with create_sessionmaker(engine).begin() as session:
            client, secret = await clients_service.create_client(
                session,
                data=ClientCreate(name="bench", roles=["editor"]),
                tenant_id="bench",
                now=datetime.now(UTC),
            )
    finally:
        await engine.dispose()
    return client.client_id, secret


def _client_credentials(stack: BenchStack) -> Request:
    """POST /oauth/token for a service client created straight in auth's database."""
    client_id, secret = asyncio.run(_create_client(stack.env["AUTH_DATABASE_URL"]))
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    return Request(
        "/oauth/token",
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=urlencode(form).encode(),
    )


SCENARIOS: list[Scenario] = [
    Scenario("baseline: Starlette fixed bytes", "baseline", _fixed("/health/live")),
    Scenario("auth GET /health/live", "auth", _fixed("/health/live")),
    Scenario("orders GET /health/live", "orders", _fixed("/health/live")),
    Scenario("auth GET /.well-known/jwks.json", "auth", _fixed("/.well-known/jwks.json")),
    Scenario("auth POST /oauth/token client_credentials", "auth", _client_credentials),
]
