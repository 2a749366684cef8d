"""PrincipalDep and require_role as a client sees them: statuses, challenges, problem bodies."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient

from servicekit.app import create_service_app
from servicekit.auth import Principal, PrincipalDep, TokenVerifier, require_role, verifier_hook
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
