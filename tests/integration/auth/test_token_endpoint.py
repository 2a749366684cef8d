"""POST /oauth/token: the three grants, RFC 6749 errors, and what a token carries."""

from __future__ import annotations

import base64
import time
from urllib.parse import quote_plus

import jwt
import pytest

from auth_service.clients.service import PUBLIC_CLIENT_ID
from tests.support.auth_app import AUDIENCE, ISSUER, AuthApp


def _basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def _error(response_json: dict[str, object]) -> object:
    return response_json["error"]


async def test_client_credentials_issues_an_rs256_at_jwt_with_the_clients_claims(
    auth_app: AuthApp,
) -> None:
    client = await auth_app.create_client(roles=["editor"])
    response = await auth_app.token(
        {
            "grant_type": "client_credentials",
            "client_id": client.client_id,
            "client_secret": client.secret,
        }
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert "refresh_token" not in body  # RFC 6749 4.4.3
    token = body["access_token"]
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "RS256", "typ": "at+jwt", "kid": header["kid"]}
    jwks = (await auth_app.client.get("/.well-known/jwks.json")).json()
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    claims = jwt.decode(
        token,
        jwt.PyJWK(key).key,
        algorithms=["RS256"],
        audience=AUDIENCE,
        issuer=ISSUER,
    )
    assert claims["sub"] == client.client_id
    assert claims["client_id"] == client.client_id
    assert claims["tenant_id"] == client.tenant_id
    assert claims["roles"] == ["editor"]
    assert claims["exp"] - claims["iat"] == 900
    assert claims["nbf"] == claims["iat"]
    assert abs(claims["iat"] - time.time()) < 5
    assert set(claims) == {
        "iss", "sub", "aud", "exp", "iat", "nbf", "jti", "roles", "tenant_id", "client_id"
    }  # fmt: skip


async def test_client_secret_basic_is_accepted(auth_app: AuthApp) -> None:
    client = await auth_app.create_client()
    response = await auth_app.token(
        {"grant_type": "client_credentials"}, headers=_basic(client.client_id, client.secret)
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("case", ["wrong secret", "unknown client", "no credentials"])
async def test_bad_client_authentication_is_invalid_client_401(
    auth_app: AuthApp, case: str
) -> None:
    client = await auth_app.create_client()
    form = {"grant_type": "client_credentials"}
    if case == "wrong secret":
        form |= {"client_id": client.client_id, "client_secret": client.secret[:-1] + "x"}
    elif case == "unknown client":
        form |= {"client_id": "svc_nobody", "client_secret": client.secret}
    response = await auth_app.token(form)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    assert response.headers["www-authenticate"].startswith("Basic")
    body = response.json()
    assert body["error"] == "invalid_client"
    assert body["status"] == 401
    assert client.secret not in response.text


async def test_a_disabled_client_gets_no_token(auth_app: AuthApp) -> None:
    client = await auth_app.create_client()
    headers = await auth_app.admin_headers(client.tenant_id)
    patched = await auth_app.client.patch(
        f"/api/v1/clients/{client.client_id}", json={"disabled": True}, headers=headers
    )
    assert patched.status_code == 200
    response = await auth_app.token(
        {
            "grant_type": "client_credentials",
            "client_id": client.client_id,
            "client_secret": client.secret,
        }
    )
    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")


async def test_two_client_authentication_methods_are_invalid_request(auth_app: AuthApp) -> None:
    client = await auth_app.create_client()
    response = await auth_app.token(
        {"grant_type": "client_credentials", "client_secret": client.secret},
        headers=_basic(client.client_id, client.secret),
    )
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


@pytest.mark.parametrize(
    ("body", "content_type", "error"),
    [
        (b"grant_type=implicit", None, "unsupported_grant_type"),
        (b"grant_type=", None, "invalid_request"),
        (b"username=a", None, "invalid_request"),
        (b"grant_type=password&grant_type=password", None, "invalid_request"),
        (b"grant_type=password&username=a%40example.com", None, "invalid_request"),
        (b"grant_type=refresh_token", None, "invalid_request"),
        (b'{"grant_type": "password"}', "application/json", "invalid_request"),
        (b"grant_type=password&username=%ff%fe", None, "invalid_request"),
    ],
    ids=[
        "unsupported grant",
        "empty grant_type",
        "missing grant_type",
        "repeated parameter",
        "missing password",
        "missing refresh_token",
        "json body",
        "not utf-8",
    ],
)
async def test_malformed_requests_get_rfc6749_errors_not_500(
    auth_app: AuthApp, body: bytes, content_type: str | None, error: str
) -> None:
    response = await auth_app.client.post(
        "/oauth/token",
        content=body,
        headers={"Content-Type": content_type or "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    payload = response.json()
    assert payload["error"] == error
    assert payload["error_description"] == payload["detail"]


@pytest.mark.parametrize("path", ["/oauth/token", "/oauth/revoke"])
async def test_a_form_over_the_oauth_form_cap_is_413_before_it_is_read(
    auth_app: AuthApp, path: str
) -> None:
    """The OAuth endpoints declare their own body cap (`oauth_form_max_bytes`, 16 KiB), far
    below the service-wide 1 MiB: the one body reader refuses more with 413 and closes."""
    body = b"grant_type=password&x=" + b"a" * (16 * 1024)
    response = await auth_app.client.post(
        path, content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert str(16 * 1024) in response.json()["detail"]
    assert response.headers["connection"] == "close"


async def test_password_grant_issues_access_and_refresh_tokens(auth_app: AuthApp) -> None:
    user = await auth_app.create_user(roles=["editor"])
    body = await auth_app.login(user)
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == user.id
    assert claims["roles"] == ["editor"]
    assert claims["tenant_id"] == user.tenant_id
    # RFC 9068 2.2: the registered public client when none authenticated.
    assert claims["client_id"] == PUBLIC_CLIENT_ID
    refresh_header = jwt.get_unverified_header(body["refresh_token"])
    assert refresh_header["typ"] == "refresh+jwt"
    assert refresh_header["kid"] not in auth_app.keyring.published_kids()


async def test_the_username_is_matched_case_insensitively(auth_app: AuthApp) -> None:
    user = await auth_app.create_user()
    response = await auth_app.token(
        {"grant_type": "password", "username": user.email.upper(), "password": user.password}
    )
    assert response.status_code == 200


async def test_password_grant_with_wrong_client_credentials_is_invalid_client(
    auth_app: AuthApp,
) -> None:
    user = await auth_app.create_user()
    response = await auth_app.token(
        {
            "grant_type": "password",
            "username": user.email,
            "password": user.password,
            "client_id": "svc_nobody",
            "client_secret": "nope",
        }
    )
    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")


async def test_password_grant_accepts_valid_client_credentials(auth_app: AuthApp) -> None:
    user = await auth_app.create_user()
    client = await auth_app.create_client()
    response = await auth_app.token(
        {"grant_type": "password", "username": user.email, "password": user.password},
        headers=_basic(client.client_id, client.secret),
    )
    assert response.status_code == 200, response.text
    assert "refresh_token" in response.json()
