"""The letter of the OAuth RFCs at the token, revocation and discovery endpoints: refresh
tokens bound to their client (RFC 6749 6), `client_id` in every access token (RFC 9068 2.2),
revocation authenticating clients (RFC 7009 2.1), the audience asked for with `resource`
(RFC 8707), RFC 8414 metadata, and JSON error bodies (RFC 6749 5.2)."""

from __future__ import annotations

import base64
import importlib.util
from typing import Any

import httpx
import jwt
import pytest

from auth_service.clients.service import PUBLIC_CLIENT_ID
from tests.support.auth_app import AUDIENCE, ISSUER, AuthApp, Client, User
from tests.support.processes import REPO_ROOT


def _basic(client: Client, secret: str | None = None) -> dict[str, str]:
    raw = f"{client.client_id}:{secret or client.secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def _claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


async def _login_via(auth_app: AuthApp, user: User, client: Client) -> dict[str, Any]:
    response = await auth_app.token(
        {"grant_type": "password", "username": user.email, "password": user.password},
        headers=_basic(client),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _refresh(
    auth_app: AuthApp, token: str, headers: dict[str, str] | None = None, **extra: str
) -> httpx.Response:
    form = {"grant_type": "refresh_token", "refresh_token": token, **extra}
    return await auth_app.token(form, headers=headers or {})


def _assert_oauth_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error"] == error
    assert isinstance(body["error_description"], str)
    assert body["error_description"]


# -- RFC 6749 6: refresh tokens are bound to their client -------------------------------------


async def test_a_confidential_clients_refresh_token_is_redeemed_only_by_that_client(
    auth_app: AuthApp,
) -> None:
    user = await auth_app.create_user()
    owner, other = await auth_app.create_client(), await auth_app.create_client()
    tokens = await _login_via(auth_app, user, owner)
    refresh = tokens["refresh_token"]
    _assert_oauth_error(await _refresh(auth_app, refresh), 400, "invalid_grant")
    _assert_oauth_error(
        await _refresh(auth_app, refresh, headers=_basic(other)), 400, "invalid_grant"
    )
    # The refused attempts neither used the token up nor revoked its family.
    redeemed = await _refresh(auth_app, refresh, headers=_basic(owner))
    assert redeemed.status_code == 200, redeemed.text
    successor = redeemed.json()
    assert _claims(successor["access_token"])["client_id"] == owner.client_id
    _assert_oauth_error(
        await _refresh(auth_app, successor["refresh_token"], headers=_basic(other)),
        400,
        "invalid_grant",
    )


async def test_a_public_login_is_not_redeemed_by_a_confidential_client(auth_app: AuthApp) -> None:
    user = await auth_app.create_user()
    tokens = await auth_app.login(user)
    thief = await auth_app.create_client()
    _assert_oauth_error(
        await _refresh(auth_app, tokens["refresh_token"], headers=_basic(thief)),
        400,
        "invalid_grant",
    )
    again = await _refresh(auth_app, tokens["refresh_token"], client_id=PUBLIC_CLIENT_ID)
    assert again.status_code == 200, again.text


async def test_a_confidential_client_cannot_pose_as_public_without_its_secret(
    auth_app: AuthApp,
) -> None:
    client = await auth_app.create_client()
    user = await auth_app.create_user()
    response = await auth_app.token(
        {
            "grant_type": "password",
            "username": user.email,
            "password": user.password,
            "client_id": client.client_id,
        }
    )
    _assert_oauth_error(response, 401, "invalid_client")


async def test_the_public_client_gets_no_client_credentials_token(auth_app: AuthApp) -> None:
    response = await auth_app.token(
        {"grant_type": "client_credentials", "client_id": PUBLIC_CLIENT_ID, "client_secret": "x"}
    )
    _assert_oauth_error(response, 401, "invalid_client")


# -- RFC 9068 2.2: every access token names its client ----------------------------------------


async def test_every_grant_puts_client_id_in_the_access_token(auth_app: AuthApp) -> None:
    user = await auth_app.create_user()
    client = await auth_app.create_client()
    public = await auth_app.login(user)
    assert _claims(public["access_token"])["client_id"] == PUBLIC_CLIENT_ID
    refreshed = (await _refresh(auth_app, public["refresh_token"])).json()
    assert _claims(refreshed["access_token"])["client_id"] == PUBLIC_CLIENT_ID
    confidential = await _login_via(auth_app, user, client)
    assert _claims(confidential["access_token"])["client_id"] == client.client_id
    service = await auth_app.client_token(client)
    assert _claims(service)["client_id"] == client.client_id


def test_the_migration_registers_the_public_client_the_code_names() -> None:
    path = REPO_ROOT / "migrations/auth/versions/0002_client_binding.py"
    spec = importlib.util.spec_from_file_location("auth_migration_0002", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.PUBLIC_CLIENT_ID == PUBLIC_CLIENT_ID


# -- RFC 7009 2.1: revocation authenticates confidential clients ------------------------------


async def test_revocation_with_wrong_client_credentials_is_401_invalid_client(
    auth_app: AuthApp,
) -> None:
    user = await auth_app.create_user()
    client = await auth_app.create_client()
    tokens = await _login_via(auth_app, user, client)
    response = await auth_app.client.post(
        "/oauth/revoke",
        data={"token": tokens["refresh_token"]},
        headers=_basic(client, "wrong-secret"),
    )
    _assert_oauth_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"].startswith("Basic")
    # Nothing was revoked.
    assert (await _refresh(auth_app, tokens["refresh_token"], headers=_basic(client))).is_success


async def test_a_client_revokes_only_its_own_tokens(auth_app: AuthApp) -> None:
    user = await auth_app.create_user()
    owner, other = await auth_app.create_client(), await auth_app.create_client()
    tokens = await _login_via(auth_app, user, owner)
    for headers in (_basic(other), {}):
        refused = await auth_app.client.post(
            "/oauth/revoke", data={"token": tokens["refresh_token"]}, headers=headers
        )
        _assert_oauth_error(refused, 400, "unauthorized_client")
    revoked = await auth_app.client.post(
        "/oauth/revoke", data={"token": tokens["refresh_token"]}, headers=_basic(owner)
    )
    assert revoked.status_code == 200
    _assert_oauth_error(
        await _refresh(auth_app, tokens["refresh_token"], headers=_basic(owner)),
        400,
        "invalid_grant",
    )


async def test_a_public_login_is_revoked_without_client_authentication(auth_app: AuthApp) -> None:
    user = await auth_app.create_user()
    tokens = await auth_app.login(user)
    response = await auth_app.client.post("/oauth/revoke", data={"token": tokens["refresh_token"]})
    assert response.status_code == 200
    _assert_oauth_error(await _refresh(auth_app, tokens["refresh_token"]), 400, "invalid_grant")


# -- RFC 8707: the audience is asked for with `resource` --------------------------------------


async def test_orders_is_the_default_audience_and_auths_api_needs_its_own(
    auth_app: AuthApp,
) -> None:
    admin = await auth_app.create_user(roles=["admin"])
    for_orders = (await auth_app.login(admin))["access_token"]
    assert _claims(for_orders)["aud"] == AUDIENCE
    me = await auth_app.client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {for_orders}"}
    )
    assert me.status_code == 401  # a token for orders is no admin credential for auth
    for_auth = (await auth_app.login(admin, resource=ISSUER))["access_token"]
    assert _claims(for_auth)["aud"] == ISSUER
    me = await auth_app.client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {for_auth}"}
    )
    assert me.status_code == 200
    explicit = (await auth_app.login(admin, resource=AUDIENCE))["access_token"]
    assert _claims(explicit)["aud"] == AUDIENCE


@pytest.mark.parametrize("resource", ["https://elsewhere.example", f"{ISSUER}/api", "orders2"])
async def test_an_unknown_resource_is_invalid_target(auth_app: AuthApp, resource: str) -> None:
    client = await auth_app.create_client()
    response = await auth_app.token(
        {
            "grant_type": "client_credentials",
            "client_id": client.client_id,
            "client_secret": client.secret,
            "resource": resource,
        }
    )
    _assert_oauth_error(response, 400, "invalid_target")


# -- RFC 8414 and HEAD ------------------------------------------------------------------------


async def test_rfc8414_metadata_is_served_and_names_a_response_type(auth_app: AuthApp) -> None:
    rfc8414 = await auth_app.client.get("/.well-known/oauth-authorization-server")
    assert rfc8414.status_code == 200
    assert rfc8414.headers["content-type"] == "application/json"
    openid = await auth_app.client.get("/.well-known/openid-configuration")
    assert rfc8414.json() == openid.json()
    meta = rfc8414.json()
    assert meta["response_types_supported"] == ["none"]
    assert "authorization_endpoint" not in meta
    assert "client_secret_basic" in meta["revocation_endpoint_auth_methods_supported"]


@pytest.mark.parametrize(
    "path",
    [
        "/.well-known/jwks.json",
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ],
)
async def test_head_answers_like_get(auth_app: AuthApp, path: str) -> None:
    get = await auth_app.client.get(path)
    head = await auth_app.client.head(path)
    assert head.status_code == 200
    for header in ("content-type", "cache-control", "etag"):
        assert head.headers.get(header) == get.headers.get(header)
