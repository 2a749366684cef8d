"""auth's typed state: routes get what the lifespan built through dependencies a test can
replace with `app.dependency_overrides` (no string keys, no monkeypatching)."""

from __future__ import annotations

import uuid

from auth_service.dependencies import get_auth_settings
from auth_service.lifespan import AuthState
from tests.support.auth_app import AuthApp


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
