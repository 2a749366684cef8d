"""auth defects the schema fuzzing found (tests/fuzz), each pinned with its minimal input.

docs/hostile-input.md keeps the list with how each one was fixed.
"""

from __future__ import annotations

import pytest

from tests.support.auth_app import AuthApp


@pytest.mark.parametrize(
    "form",
    [
        # the fuzzer's input, reduced: a refresh grant whose client_id holds a NUL
        {
            "grant_type": "refresh_token",
            "refresh_token": "x",
            "client_id": "a\x00",
            "client_secret": "s",
        },
        {"grant_type": "client_credentials", "client_id": "a\x00", "client_secret": "s"},
        {"grant_type": "password", "username": "a\x00@example.com", "password": "p" * 12},
        {"grant_type": "refresh_token", "refresh_token": "a\x00b"},
    ],
)
async def test_a1_a_nul_in_any_credential_is_refused_not_a_500(
    auth_app: AuthApp, form: dict[str, str]
) -> None:
    """A1: `POST /oauth/token` with a client_id holding a NUL answered 500: the value reached
    PostgreSQL, which cannot hold NUL in text ("invalid byte sequence for encoding UTF8")."""
    response = await auth_app.token(form)
    assert response.status_code in (400, 401)
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"] in ("invalid_client", "invalid_grant", "invalid_request")


async def test_a1_a_nul_in_basic_client_credentials_is_invalid_client(auth_app: AuthApp) -> None:
    """A1, the other way in: the same NUL in an HTTP Basic client id (client_secret_basic)."""
    response = await auth_app.token({"grant_type": "client_credentials"}, auth=("a\x00", "secret"))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_a2_revoke_documents_the_empty_answer_it_sends(auth_app: AuthApp) -> None:
    """A2: `POST /oauth/revoke` (`token=x`) answered 200 with no body and no Content-Type, as
    RFC 7009 allows, while its OpenAPI documented an `application/json` body (schemathesis
    ST104/ST109)."""
    response = await auth_app.client.post("/oauth/revoke", data={"token": "x"})
    assert response.status_code == 200
    assert response.content == b""
    documented = auth_app.app.openapi()["paths"]["/oauth/revoke"]["post"]["responses"]["200"]
    assert "content" not in documented


async def test_a3_a_method_users_me_does_not_serve_is_405_not_a_user_id(
    auth_app: AuthApp,
) -> None:
    """A3: `PATCH /api/v1/users/me` answered 401/403/422 (as `PATCH /users/{user_id}` with the
    id "me") where its document promises only GET: a 405 (schemathesis ST204). User ids are
    UUIDs, so the id routes now match UUIDs only."""
    headers = await auth_app.admin_headers()
    patch = await auth_app.client.patch("/api/v1/users/me", json={}, headers=headers)
    assert patch.status_code == 405
    assert patch.headers["allow"] == "GET"
    not_an_id = await auth_app.client.get("/api/v1/users/not-a-uuid", headers=headers)
    assert not_an_id.status_code == 404
    assert not_an_id.headers["content-type"] == "application/problem+json"


async def test_a4_the_documented_password_minimum_is_the_configured_one(
    auth_app: AuthApp,
) -> None:
    """A4: `POST /api/v1/users` with a one-character password matched the documented schema
    (`minLength: 1`) and got a 422: the minimum is a setting (`password_min_length`, 12). The
    user schemas now publish the configured minimum."""
    minimum = auth_app.settings.password_min_length
    schemas = auth_app.app.openapi()["components"]["schemas"]
    assert schemas["UserCreate"]["properties"]["password"]["minLength"] == minimum
    update = schemas["UserUpdate"]["properties"]["password"]["anyOf"]
    assert [v["minLength"] for v in update if v.get("type") == "string"] == [minimum]
    headers = await auth_app.admin_headers()
    body = {"email": "a4-short@example.com", "roles": ["viewer"]}
    short = await auth_app.client.post(
        "/api/v1/users", json={**body, "password": "p" * (minimum - 1)}, headers=headers
    )
    enough = await auth_app.client.post(
        "/api/v1/users", json={**body, "password": "p" * minimum}, headers=headers
    )
    assert (short.status_code, enough.status_code) == (422, 201)


async def test_a5_an_unknown_token_type_hint_is_documented_as_ignored(auth_app: AuthApp) -> None:
    """A5: `POST /oauth/revoke` with `token_type_hint=bogus` answered 200, as RFC 7009 2.1
    requires (an unknown hint is ignored), while the document listed the hint as an enum
    (schemathesis ST201, schema-violating request accepted). The document now says so."""
    response = await auth_app.client.post(
        "/oauth/revoke", data={"token": "x", "token_type_hint": "bogus"}
    )
    assert response.status_code == 200
    form = auth_app.app.openapi()["paths"]["/oauth/revoke"]["post"]["requestBody"]["content"]
    hint = form["application/x-www-form-urlencoded"]["schema"]["properties"]["token_type_hint"]
    assert "enum" not in str(hint)


async def test_a7_a_nul_in_an_email_is_a_422_not_a_500(auth_app: AuthApp) -> None:
    """A7: `POST /api/v1/users` with `"email": "\\"C\\u00de@\\u00e7\\u0000..."` answered 500: the
    pattern allowed a NUL, which PostgreSQL text cannot hold. The pattern now excludes it."""
    headers = await auth_app.admin_headers()
    response = await auth_app.client.post(
        "/api/v1/users",
        json={"email": "a@b\x00.co", "password": "p" * 12, "roles": ["viewer"]},
        headers=headers,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "email"
