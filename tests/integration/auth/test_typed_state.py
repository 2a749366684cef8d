"""auth's typed state: routes get what the lifespan built through dependencies a test can
replace with `app.dependency_overrides` (no string keys, no monkeypatching)."""

from __future__ import annotations

import base64
import os
import uuid

from auth_service.cursors import cursor_signer
from auth_service.dependencies import get_auth_settings, get_cursor_signer
from auth_service.lifespan import AuthState
from servicekit.data.cursors import CursorSigner
from tests.support.auth_app import KEK_B64, AuthApp
from tests.support.ids import new_tenant
from tests.support.paging import cursor_of


async def test_the_lifespan_builds_one_typed_state(auth_app: AuthApp) -> None:
    state = auth_app.state
    assert isinstance(state, AuthState)
    assert state.verifier is not None
    assert state.verifier.key_source is state.keyring  # auth verifies against its own ring
    assert state.settings is auth_app.settings


async def test_an_overridden_settings_dependency_reaches_the_route(auth_app: AuthApp) -> None:
    """The password policy is read through AuthSettingsDep: overriding it changes the answer."""
    headers = await auth_app.admin_headers()
    password = "twenty-two characters"
    stricter = auth_app.settings.model_copy(update={"password_min_length": len(password) + 1})

    def body() -> dict[str, object]:
        email = f"o-{uuid.uuid4().hex[:10]}@example.com"
        return {"email": email, "password": password, "roles": ["viewer"]}

    auth_app.app.dependency_overrides[get_auth_settings] = lambda: stricter
    try:
        refused = await auth_app.client.post("/api/v1/users", json=body(), headers=headers)
    finally:
        del auth_app.app.dependency_overrides[get_auth_settings]
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    accepted = await auth_app.client.post("/api/v1/users", json=body(), headers=headers)
    assert accepted.status_code == 201


async def test_list_cursors_are_signed_under_the_hkdf_key_of_the_key_encryption_key(
    auth_app: AuthApp,
) -> None:
    """No new secret: a cursor signed offline with HKDF(KEK) is one the app accepts, and the
    app's own cursors verify under it (docs/auth-admin-api.md)."""
    tenant = new_tenant()
    headers = await auth_app.admin_headers(tenant)
    await auth_app.create_user(tenant_id=tenant)
    offline = cursor_signer(base64.b64decode(KEK_B64))
    first = await auth_app.client.get("/api/v1/users", params={"limit": "1"}, headers=headers)
    issued = cursor_of(first.json()["next"])
    token = offline.verify(issued, scope="User")  # raises unless HKDF(KEK) signed it
    again = await auth_app.client.get(
        "/api/v1/users", params={"cursor": offline.sign(token, scope="User")}, headers=headers
    )
    assert again.status_code == 200, again.text
    assert len(again.json()["items"]) == 1


async def test_an_overridden_cursor_signer_reaches_the_list(auth_app: AuthApp) -> None:
    """The admin lists get their signer through CursorSignerDep: another key refuses the
    cursors the lifespan's key issued."""
    tenant = new_tenant()
    headers = await auth_app.admin_headers(tenant)
    await auth_app.create_client(tenant_id=tenant)
    await auth_app.create_client(tenant_id=tenant)
    first = await auth_app.client.get("/api/v1/clients", params={"limit": "1"}, headers=headers)
    cursor = cursor_of(first.json()["next"])
    other = CursorSigner(os.urandom(32))
    auth_app.app.dependency_overrides[get_cursor_signer] = lambda: other
    try:
        refused = await auth_app.client.get(
            "/api/v1/clients", params={"cursor": cursor}, headers=headers
        )
    finally:
        del auth_app.app.dependency_overrides[get_cursor_signer]
    assert refused.status_code == 400
    accepted = await auth_app.client.get(
        "/api/v1/clients", params={"cursor": cursor}, headers=headers
    )
    assert accepted.status_code == 200
