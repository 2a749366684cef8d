"""PrincipalDep and require_role as a client sees them: statuses, challenges, problem bodies."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from servicekit.app import create_service_app
from servicekit.auth import (
    Principal,
    PrincipalDep,
    TokenVerifier,
    principal_scope_resolver,
    require_role,
    verifier_hook,
)
from servicekit.settings import ServiceSettings
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
        principal: Annotated[Principal, Depends(require_role("admin"))],
    ) -> dict[str, str]:
        return {"sub": principal.subject}

    hook = verifier_hook(
        lambda _r: TokenVerifier(
            key_source=ISSUER_KEYS.static_source(), issuer=ISSUER, audience=AUDIENCE
        )
    )
    app = create_service_app(
        settings=ServiceSettings(service_name="t"),
        title="t",
        version="0",
        routers=[router],
        hooks=[hook],
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


def _app_with_resolving_middleware(preset: tuple[str, Principal] | None = None) -> TestClient:
    """An app whose middleware resolves the caller like the idempotency middleware does; with
    `preset`, the middleware instead leaves that (token, principal) in the request state."""
    router = APIRouter()

    @router.get("/me")
    async def me(principal: PrincipalDep) -> dict[str, str]:
        return {"sub": principal.subject}

    resolve = principal_scope_resolver()

    class Resolving:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                if preset is None:
                    await resolve(scope)
                else:
                    state = scope.setdefault("state", {})
                    state["principal_token"], state["principal"] = preset
            await self.app(scope, receive, send)

    hook = verifier_hook(
        lambda _r: CountingVerifier(
            key_source=ISSUER_KEYS.static_source(), issuer=ISSUER, audience=AUDIENCE
        )
    )
    app = create_service_app(
        settings=ServiceSettings(service_name="t"),
        title="t",
        version="0",
        routers=[router],
        hooks=[hook],
        middleware=[Middleware(Resolving)],
    )
    return TestClient(app)


def test_principal_verified_by_a_middleware_is_reused_by_the_route() -> None:
    """One verification per request: PrincipalDep takes what the scope resolver verified."""
    token = ISSUER_KEYS.issue(sub="u1")
    with _app_with_resolving_middleware() as client:
        CountingVerifier.calls = 0
        for _ in range(3):
            r = client.get("/me", headers={"Authorization": f"Bearer {token}"})
            assert r.json() == {"sub": "u1"}
        assert CountingVerifier.calls == 3
        # A token the resolver rejects leaves nothing behind: the route answers its 401.
        bad = client.get("/me", headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401
        assert bad.headers["www-authenticate"] == 'Bearer error="invalid_token"'


def test_a_principal_left_for_another_token_is_not_reused() -> None:
    """The state's principal only stands for the token it was verified from."""
    other = Principal(
        subject="someone-else",
        tenant_id="t",
        roles=("admin",),
        client_id=None,
        token_id="j",
        expires_at=2**31,
    )
    token = ISSUER_KEYS.issue(sub="u2")
    with _app_with_resolving_middleware(("another-token", other)) as client:
        CountingVerifier.calls = 0
        r = client.get("/me", headers={"Authorization": f"Bearer {token}"})
        assert r.json() == {"sub": "u2"}
        assert CountingVerifier.calls == 1
        anonymous = client.get("/me")
        assert anonymous.status_code == 401
