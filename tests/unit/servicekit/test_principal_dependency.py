"""PrincipalDep and require_role as a client sees them: statuses, challenges, problem bodies."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AsyncExitStack
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from servicekit.core.settings import ServiceSettings
from servicekit.verify import Principal, TokenVerifier
from servicekit.web.app import ServiceResources, ServiceState, create_service_app
from servicekit.web.security import Permission, PrincipalDep, principal_scope, requires
from tests.support.tokens import AUDIENCE, ISSUER, TestIssuer

ISSUER_KEYS = TestIssuer()


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    router = APIRouter()

    @router.get("/me")
    async def me(principal: PrincipalDep) -> dict[str, str]:
        return {"sub": principal.subject, "tenant": principal.tenant_id}

    @router.delete("/things")
    async def admin_only(
        principal: Annotated[Principal, Depends(requires(Permission("admin", "admin")))],
    ) -> dict[str, str]:
        return {"sub": principal.subject}

    async def state(resources: ServiceResources, _stack: AsyncExitStack) -> ServiceState:
        verifier = TokenVerifier(
            key_source=ISSUER_KEYS.static_source(), issuer=ISSUER, audience=AUDIENCE
        )
        return ServiceState(resources=resources, verifier=verifier)

    app = create_service_app(
        settings=ServiceSettings(service_name="t"),
        title="t",
        version="0",
        routers=[router],
        state=state,
    )
    with TestClient(app) as c:
        yield c


def test_valid_token_reaches_the_route(client: TestClient) -> None:
    r = client.get("/me", headers={"Authorization": "Bearer " + ISSUER_KEYS.issue(sub="u9")})
    assert r.status_code == 200
    assert r.json() == {"sub": "u9", "tenant": "tenant-a"}


def test_missing_credentials_is_401_with_bare_challenge(client: TestClient) -> None:
    r = client.get("/me")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "header", ["Bearer ", "Bearer garbage", "Basic dXNlcjpwYXNz", "Bearer a.b.c"]
)
def test_bad_credentials_are_401_invalid_token(client: TestClient, header: str) -> None:
    r = client.get("/me", headers={"Authorization": header})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert r.json()["status"] == 401


def test_lower_role_is_403_naming_the_role(client: TestClient) -> None:
    token = ISSUER_KEYS.issue(roles=["editor"])
    r = client.delete("/things", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403
    assert "admin" in r.json()["detail"]
    ok = client.delete(
        "/things", headers={"Authorization": "Bearer " + ISSUER_KEYS.issue(roles=["admin"])}
    )
    assert ok.status_code == 200


class CountingVerifier(TokenVerifier):
    """The real verifier, counting how often a token is verified."""

    calls = 0

    async def verify(self, token: str) -> Principal:
        CountingVerifier.calls += 1
        return await super().verify(token)


def _app_with_resolving_middleware() -> TestClient:
    """An app whose middleware resolves the caller like the idempotency middleware does."""
    router = APIRouter()

    @router.get("/me")
    async def me(principal: PrincipalDep) -> dict[str, str]:
        return {"sub": principal.subject}

    class Resolving:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                await principal_scope(scope)
            await self.app(scope, receive, send)

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
        middleware=[Middleware(Resolving)],
    )
    return TestClient(app)


def test_principal_verified_by_a_middleware_is_reused_by_the_route() -> None:
    """One verification per request, valid or not: the request context remembers it."""
    token = ISSUER_KEYS.issue(sub="u1")
    with _app_with_resolving_middleware() as client:
        CountingVerifier.calls = 0
        for _ in range(3):
            r = client.get("/me", headers={"Authorization": f"Bearer {token}"})
            assert r.json() == {"sub": "u1"}
        assert CountingVerifier.calls == 3
        # An invalid token is verified once too (it used to be twice), and answered 401.
        CountingVerifier.calls = 0
        bad = client.get("/me", headers={"Authorization": "Bearer a.b.c"})
        assert bad.status_code == 401
        assert bad.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        assert CountingVerifier.calls == 1
