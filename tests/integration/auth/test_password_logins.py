"""Password grant failures: one answer for every failure, similar timing, lockout after N."""

from __future__ import annotations

import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import text

from tests.support.auth_app import AuthApp


async def _attempt(auth_app: AuthApp, username: str, password: str) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = await auth_app.token(
        {"grant_type": "password", "username": username, "password": password}
    )
    return response, time.perf_counter() - started


async def test_wrong_password_and_unknown_user_give_the_same_error_and_similar_timing(
    auth_app: AuthApp,
) -> None:
    wrong_password, unknown_user = [], []
    bodies = set()
    for _ in range(9):
        user = await auth_app.create_user()  # a fresh user each time: no lockout in play
        response, elapsed = await _attempt(auth_app, user.email, "not the password")
        wrong_password.append(elapsed)
        bodies.add((response.status_code, response.text))
        response, elapsed = await _attempt(
            auth_app, f"nobody-{uuid.uuid4().hex}@example.com", "not the password"
        )
        unknown_user.append(elapsed)
        bodies.add((response.status_code, response.text))
    assert len(bodies) == 1, bodies
    status, body = bodies.pop()
    assert status == 400
    assert '"error":"invalid_grant"' in body
    ratio = statistics.median(wrong_password) / statistics.median(unknown_user)
    # Both paths run one argon2 verification; the known account adds one small UPDATE.
    assert 0.5 < ratio < 2.0, (statistics.median(wrong_password), statistics.median(unknown_user))


async def test_lockout_after_n_failures_refuses_even_the_right_password_and_then_lifts(
    auth_app: AuthApp,
) -> None:
    user = await auth_app.create_user()
    n = auth_app.settings.login_max_failures
    for _ in range(n):
        response, _ = await _attempt(auth_app, user.email, "wrong")
        assert response.json()["error"] == "invalid_grant"
    locked, _ = await _attempt(auth_app, user.email, user.password)
    unknown, _ = await _attempt(auth_app, "nobody@example.com", user.password)
    # A locked account answers exactly like an account that does not exist.
    assert locked.status_code == unknown.status_code == 400
    assert locked.json() == unknown.json()

    async with auth_app.resources.engine.begin() as conn:
        locked_until = (
            await conn.execute(
                text("SELECT locked_until FROM users WHERE id = :id"), {"id": user.id}
            )
        ).scalar_one()
        expected = datetime.now(UTC) + timedelta(minutes=auth_app.settings.login_lockout_minutes)
        assert abs((locked_until - expected).total_seconds()) < 30
        # The lockout period passes.
        await conn.execute(
            text("UPDATE users SET locked_until = now() - interval '1 second' WHERE id = :id"),
            {"id": user.id},
        )
    ok, _ = await _attempt(auth_app, user.email, user.password)
    assert ok.status_code == 200
    async with auth_app.resources.engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT failed_logins, locked_until FROM users WHERE id = :id"),
                {"id": user.id},
            )
        ).one()
    assert tuple(row) == (0, None)


async def test_failures_below_the_limit_are_forgotten_after_a_success(auth_app: AuthApp) -> None:
    user = await auth_app.create_user()
    n = auth_app.settings.login_max_failures
    for _ in range(n - 1):
        await _attempt(auth_app, user.email, "wrong")
    assert (await _attempt(auth_app, user.email, user.password))[0].status_code == 200
    for _ in range(n - 1):
        await _attempt(auth_app, user.email, "wrong")
    assert (await _attempt(auth_app, user.email, user.password))[0].status_code == 200


async def test_a_disabled_user_cannot_log_in(auth_app: AuthApp) -> None:
    user = await auth_app.create_user()
    headers = await auth_app.admin_headers(user.tenant_id)
    patched = await auth_app.client.patch(
        f"/api/v1/users/{user.id}", json={"disabled": True}, headers=headers
    )
    assert patched.status_code == 200
    response, _ = await _attempt(auth_app, user.email, user.password)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")
