"""/api/v1/users and /api/v1/clients: admins of a tenant manage that tenant only."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from tests.support.auth_app import ISSUER, AuthApp
from tests.support.ids import new_tenant
from tests.support.paging import cursor_of


async def test_me_returns_the_callers_account(auth_app: AuthApp) -> None:
    user = await auth_app.create_user(roles=["viewer"])
    tokens = await auth_app.login(user, resource=ISSUER)
    response = await auth_app.client.get(
        "/api/v1/users/me", headers={"Authorization": "Bearer " + tokens["access_token"]}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == user.id
    assert body["email"] == user.email
    assert body["roles"] == ["viewer"]
    assert body["tenant_id"] == user.tenant_id
    assert "password" not in response.text
    assert "password_hash" not in body


async def test_me_for_a_service_client_is_404(auth_app: AuthApp) -> None:
    client = await auth_app.create_client()
    token = await auth_app.client_token(client, resource=ISSUER)
    response = await auth_app.client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_me_without_a_token_is_401_with_a_bearer_challenge(auth_app: AuthApp) -> None:
    response = await auth_app.client.get("/api/v1/users/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_an_admin_creates_lists_reads_and_updates_users_of_its_tenant(
    auth_app: AuthApp,
) -> None:
    tenant = new_tenant()
    headers = await auth_app.admin_headers(tenant)
    email = f"New-{uuid.uuid4().hex[:8]}@Example.com"
    created = await auth_app.client.post(
        "/api/v1/users",
        json={"email": email, "password": "a long enough password", "roles": ["editor", "viewer"]},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["email"] == email.lower()
    assert user["tenant_id"] == tenant  # from the admin's token, never from the body
    assert user["roles"] == ["viewer", "editor"]
    assert created.headers["location"] == f"/api/v1/users/{user['id']}"
    assert "a long enough password" not in created.text

    page = await auth_app.client.get("/api/v1/users", headers=headers)
    assert page.status_code == 200
    assert len(page.json()["items"]) == 2
    assert page.json()["next"] is None
    assert {u["email"] for u in page.json()["items"]} >= {email.lower()}

    one = await auth_app.client.get(f"/api/v1/users/{user['id']}", headers=headers)
    assert one.json() == user

    patched = await auth_app.client.patch(
        f"/api/v1/users/{user['id']}", json={"roles": ["admin"]}, headers=headers
    )
    assert patched.status_code == 200
    assert patched.json()["roles"] == ["admin"]

    login = await auth_app.token(
        {"grant_type": "password", "username": email, "password": "a long enough password"}
    )
    assert login.status_code == 200


async def test_the_password_hash_is_argon2id_and_not_the_password(auth_app: AuthApp) -> None:
    user = await auth_app.create_user()
    async with auth_app.resources.engine.connect() as conn:
        stored = (
            await conn.execute(
                text("SELECT password_hash FROM users WHERE id = :id"), {"id": user.id}
            )
        ).scalar_one()
    assert stored.startswith("$argon2id$")
    assert user.password not in stored


async def test_a_duplicate_email_is_409(auth_app: AuthApp) -> None:
    existing = await auth_app.create_user()
    headers = await auth_app.admin_headers()
    response = await auth_app.client.post(
        "/api/v1/users",
        json={"email": existing.email, "password": "a long enough password", "roles": ["viewer"]},
        headers=headers,
    )
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email", "password": "a long enough password", "roles": ["viewer"]},
        {"email": "a@example.com", "password": "a long enough password", "roles": []},
        {"email": "a@example.com", "password": "a long enough password", "roles": ["root"]},
        {"email": "a@example.com", "password": "short", "roles": ["viewer"]},
        {"email": "a@example.com", "roles": ["viewer"]},
        {
            "email": "a@example.com",
            "password": "a long enough password",
            "roles": ["viewer"],
            "tenant_id": "other",
        },
    ],
    ids=["bad email", "no roles", "unknown role", "short password", "no password", "tenant"],
)
async def test_invalid_user_bodies_are_422_without_echoing_the_password(
    auth_app: AuthApp, body: dict[str, object]
) -> None:
    headers = await auth_app.admin_headers()
    response = await auth_app.client.post("/api/v1/users", json=body, headers=headers)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "a long enough password" not in response.text


async def test_non_admins_get_403(auth_app: AuthApp) -> None:
    editor = await auth_app.create_user(roles=["editor"])
    headers = {
        "Authorization": "Bearer " + (await auth_app.login(editor, resource=ISSUER))["access_token"]
    }
    for method, path in [
        ("GET", "/api/v1/users"),
        ("POST", "/api/v1/users"),
        ("GET", "/api/v1/clients"),
        ("POST", "/api/v1/clients"),
    ]:
        response = await auth_app.client.request(method, path, headers=headers, json={})
        assert response.status_code == 403, (method, path)


async def test_users_and_clients_of_another_tenant_are_404(auth_app: AuthApp) -> None:
    other_user = await auth_app.create_user()
    other_client = await auth_app.create_client()
    headers = await auth_app.admin_headers()  # an admin of a third tenant
    for path in (f"/api/v1/users/{other_user.id}", f"/api/v1/clients/{other_client.client_id}"):
        assert (await auth_app.client.get(path, headers=headers)).status_code == 404
        patched = await auth_app.client.patch(path, json={"disabled": True}, headers=headers)
        assert patched.status_code == 404
    listed = await auth_app.client.get("/api/v1/users", headers=headers)
    assert other_user.id not in {u["id"] for u in listed.json()["items"]}


async def test_a_password_change_ends_refresh_sessions(auth_app: AuthApp) -> None:
    user = await auth_app.create_user()
    tokens = await auth_app.login(user, resource=ISSUER)
    # The session works before the change, so a refusal after it is the change's doing.
    before = await auth_app.token(
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert before.status_code == 200, before.text
    headers = await auth_app.admin_headers(user.tenant_id)
    patched = await auth_app.client.patch(
        f"/api/v1/users/{user.id}", json={"password": "another long password"}, headers=headers
    )
    assert patched.status_code == 200
    refresh = await auth_app.token(
        {"grant_type": "refresh_token", "refresh_token": before.json()["refresh_token"]}
    )
    assert (refresh.status_code, refresh.json()["error"]) == (400, "invalid_grant")


async def test_a_client_secret_is_shown_once_stored_as_a_digest_and_works(
    auth_app: AuthApp,
) -> None:
    tenant = new_tenant()
    headers = await auth_app.admin_headers(tenant)
    created = await auth_app.client.post(
        "/api/v1/clients", json={"name": "billing", "roles": ["editor"]}, headers=headers
    )
    assert created.status_code == 201, created.text
    assert created.headers["cache-control"] == "no-store"
    body = created.json()
    secret = body["client_secret"]
    assert len(secret) >= 43  # 256 bits, base64url
    assert body["tenant_id"] == tenant
    read = await auth_app.client.get(f"/api/v1/clients/{body['client_id']}", headers=headers)
    assert "client_secret" not in read.json()
    listed = await auth_app.client.get("/api/v1/clients", headers=headers)
    assert secret not in listed.text
    async with auth_app.resources.engine.connect() as conn:
        digest = (
            await conn.execute(
                text("SELECT secret_digest FROM service_clients WHERE client_id = :c"),
                {"c": body["client_id"]},
            )
        ).scalar_one()
    assert len(digest) == 32
    assert secret.encode() not in digest
    token = await auth_app.token(
        {
            "grant_type": "client_credentials",
            "client_id": body["client_id"],
            "client_secret": secret,
        }
    )
    assert token.status_code == 200


async def test_rotating_a_client_secret_retires_the_old_one(auth_app: AuthApp) -> None:
    client = await auth_app.create_client()
    headers = await auth_app.admin_headers(client.tenant_id)
    rotated = await auth_app.client.post(
        f"/api/v1/clients/{client.client_id}/secret", headers=headers
    )
    assert rotated.status_code == 200
    new_secret = rotated.json()["client_secret"]
    form = {"grant_type": "client_credentials", "client_id": client.client_id}
    old = await auth_app.token(form | {"client_secret": client.secret})
    new = await auth_app.token(form | {"client_secret": new_secret})
    assert (old.status_code, new.status_code) == (401, 200)


async def test_openapi_lists_the_auth_routes(auth_app: AuthApp) -> None:
    spec = (await auth_app.client.get("/openapi.json")).json()
    for path in (
        "/oauth/token",
        "/oauth/revoke",
        "/.well-known/jwks.json",
        "/.well-known/openid-configuration",
        "/api/v1/users",
        "/api/v1/users/me",
        "/api/v1/clients",
    ):
        assert path in spec["paths"], path
    form = spec["paths"]["/oauth/token"]["post"]["requestBody"]["content"]
    assert "application/x-www-form-urlencoded" in form


@pytest.mark.parametrize("path", ["/api/v1/users", "/api/v1/clients"])
async def test_an_unknown_query_parameter_of_an_admin_list_is_a_422(
    auth_app: AuthApp, path: str
) -> None:
    """Found by the fuzz suite with a rotating seed: `?limt=5` was a 200 with the default page."""
    headers = await auth_app.admin_headers(new_tenant())
    answer = await auth_app.client.get(path, params={"limt": "5"}, headers=headers)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    fine = await auth_app.client.get(path, params={"limit": "5"}, headers=headers)
    assert fine.status_code == 200, fine.text


async def _all_pages(
    auth_app: AuthApp, path: str, headers: dict[str, str], **params: str
) -> list[list[dict[str, object]]]:
    """Every page of an admin list, following the `next` links (as they are) from the first."""
    pages: list[list[dict[str, object]]] = []
    answer = await auth_app.client.get(path, params=params, headers=headers)
    for _ in range(50):
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert set(body) == {"items", "next"}  # no offset, no total
        pages.append(body["items"])
        if body["next"] is None:
            return pages
        assert body["next"].startswith(path + "?")  # relative, filters kept
        answer = await auth_app.client.get(body["next"], headers=headers)
    raise AssertionError("the list never ended")


async def test_users_are_listed_in_cursor_pages_by_email_each_once(auth_app: AuthApp) -> None:
    tenant = new_tenant()
    headers = await auth_app.admin_headers(tenant)
    for _ in range(4):
        await auth_app.create_user(tenant_id=tenant)
    pages = await _all_pages(auth_app, "/api/v1/users", headers, limit="2")
    assert [len(page) for page in pages] == [2, 2, 1]
    emails = [str(user["email"]) for page in pages for user in page]
    assert emails == sorted(emails)
    assert len(set(emails)) == 5  # the admin and the four users


async def test_clients_are_listed_in_cursor_pages_oldest_first_each_once(
    auth_app: AuthApp,
) -> None:
    tenant = new_tenant()
    headers = await auth_app.admin_headers(tenant)
    created = [(await auth_app.create_client(tenant_id=tenant)).client_id for _ in range(5)]
    pages = await _all_pages(auth_app, "/api/v1/clients", headers, limit="2")
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [client["client_id"] for page in pages for client in page] == created


async def test_admin_lists_filter_by_role_and_disabled(auth_app: AuthApp) -> None:
    tenant = new_tenant()
    headers = await auth_app.admin_headers(tenant)
    editor = await auth_app.create_user(tenant_id=tenant, roles=["viewer", "editor"])
    viewer = await auth_app.create_user(tenant_id=tenant, roles=["viewer"])
    off = await auth_app.client.patch(
        f"/api/v1/users/{viewer.id}", json={"disabled": True}, headers=headers
    )
    assert off.status_code == 200

    async def ids(**params: str) -> set[str]:
        pages = await _all_pages(auth_app, "/api/v1/users", headers, **params)
        return {str(user["id"]) for page in pages for user in page}

    assert await ids(role="editor") == {editor.id}
    assert await ids(role="viewer") == {editor.id, viewer.id}
    assert await ids(disabled="true") == {viewer.id}
    assert viewer.id not in await ids(disabled="false")
    assert await ids(role="viewer", disabled="false") == {editor.id}

    client = await auth_app.create_client(tenant_id=tenant, roles=["editor"])
    pages = await _all_pages(auth_app, "/api/v1/clients", headers, role="admin")
    assert pages == [[]]
    pages = await _all_pages(auth_app, "/api/v1/clients", headers, role="editor")
    assert [c["client_id"] for c in pages[0]] == [client.client_id]


@pytest.mark.parametrize("path", ["/api/v1/users", "/api/v1/clients"])
async def test_a_tampered_or_foreign_cursor_is_a_400_problem(auth_app: AuthApp, path: str) -> None:
    tenant = new_tenant()
    headers = await auth_app.admin_headers(tenant)
    for _ in range(2):
        await auth_app.create_user(tenant_id=tenant)
        await auth_app.create_client(tenant_id=tenant)
    first = await auth_app.client.get(path, params={"limit": "1"}, headers=headers)
    cursor = cursor_of(first.json()["next"])
    other = "/api/v1/clients" if path == "/api/v1/users" else "/api/v1/users"
    foreign = (await auth_app.client.get(other, params={"limit": "1"}, headers=headers)).json()
    token, _, mac = cursor.rpartition(".")
    unsigned_orders_style = "eyJzIjoiZW1haWwiLCJ2IjoiYUBiLmMiLCJpZCI6IngifQ"
    for bad in (
        token + "." + ("A" if mac[0] != "A" else "B") + mac[1:],  # MAC changed
        token[:-1] + ("A" if token[-1] != "A" else "B") + "." + mac,  # token changed
        cursor_of(foreign["next"]),  # the other list's cursor
        unsigned_orders_style,
        "not a cursor",
    ):
        answer = await auth_app.client.get(path, params={"cursor": bad}, headers=headers)
        assert answer.status_code == 400, (bad, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["type"].endswith("invalid-cursor")


@pytest.mark.parametrize("path", ["/api/v1/users", "/api/v1/clients"])
async def test_offset_is_no_longer_a_parameter_of_an_admin_list(
    auth_app: AuthApp, path: str
) -> None:
    headers = await auth_app.admin_headers(new_tenant())
    answer = await auth_app.client.get(path, params={"offset": "0"}, headers=headers)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
