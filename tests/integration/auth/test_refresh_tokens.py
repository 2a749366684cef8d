"""Refresh tokens: rotation, reuse detection (the whole family dies), revocation, disabled users."""

from __future__ import annotations

import logging
from typing import Any

import jwt
import pytest
from sqlalchemy import text

from tests.support.auth_app import AuthApp, auth_settings, running_auth


async def _refresh(auth_app: AuthApp, token: str) -> Any:
    return await auth_app.token({"grant_type": "refresh_token", "refresh_token": token})


async def test_each_use_rotates_the_refresh_token_within_the_familys_absolute_lifetime(
    auth_app: AuthApp,
) -> None:
    user = await auth_app.create_user()
    first = await auth_app.login(user)
    second_response = await _refresh(auth_app, first["refresh_token"])
    assert second_response.status_code == 200
    assert second_response.headers["cache-control"] == "no-store"
    second = second_response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    old = jwt.decode(first["refresh_token"], options={"verify_signature": False})
    new = jwt.decode(second["refresh_token"], options={"verify_signature": False})
    assert new["fid"] == old["fid"]
    assert new["exp"] == old["exp"]  # rotation never extends the family
    assert old["exp"] - old["iat"] == auth_app.settings.refresh_token_ttl_s
    third = await _refresh(auth_app, second["refresh_token"])
    assert third.status_code == 200
    # By jti, not by issued_at: three tokens issued within one second tie on it.
    status_of = await auth_app.refresh_family_statuses(first["refresh_token"])
    jtis = [
        jwt.decode(t["refresh_token"], options={"verify_signature": False})["jti"]
        for t in (first, second, third.json())
    ]
    assert [status_of[jti] for jti in jtis] == ["rotated", "rotated", "active"]
    assert len(status_of) == 3


async def test_reusing_a_rotated_token_revokes_the_family_and_logs_a_security_event(
    auth_app: AuthApp, caplog: pytest.LogCaptureFixture
) -> None:
    user = await auth_app.create_user()
    first = await auth_app.login(user)
    newest = (await _refresh(auth_app, first["refresh_token"])).json()
    # Past the retry grace: a replay now is reuse, whatever became of its successor.
    grace_s = auth_app.settings.refresh_reuse_grace_s
    await auth_app.backdate_refresh_family(first["refresh_token"], grace_s + 1)
    with caplog.at_level(logging.WARNING, logger="auth_service.security"):
        reuse = await _refresh(auth_app, first["refresh_token"])
    assert (reuse.status_code, reuse.json()["error"]) == (400, "invalid_grant")
    # The newest token of the family stops working too: the thief and the user both lose it.
    after = await _refresh(auth_app, newest["refresh_token"])
    assert (after.status_code, after.json()["error"]) == (400, "invalid_grant")
    statuses = await auth_app.refresh_family_statuses(first["refresh_token"])
    assert set(statuses.values()) == {"revoked"}
    events = [r for r in caplog.records if getattr(r, "event", None) == "refresh_token_reuse"]
    assert len(events) == 1
    assert events[0].user_id == user.id  # type: ignore[attr-defined]
    assert first["refresh_token"] not in caplog.text
    assert newest["refresh_token"] not in caplog.text


async def test_other_families_of_the_same_user_survive_a_reuse(auth_app: AuthApp) -> None:
    user = await auth_app.create_user()
    laptop = await auth_app.login(user)
    phone = await auth_app.login(user)
    second = (await _refresh(auth_app, laptop["refresh_token"])).json()
    await _refresh(auth_app, second["refresh_token"])
    reuse = await _refresh(auth_app, laptop["refresh_token"])  # its successor was used
    assert reuse.status_code == 400
    assert (await _refresh(auth_app, phone["refresh_token"])).status_code == 200


async def test_a_retry_within_the_grace_rotates_again_and_the_unseen_successor_is_retired(
    auth_app: AuthApp, caplog: pytest.LogCaptureFixture
) -> None:
    """The client's refresh answer was lost (503 commit-outcome-unknown, a cut connection):
    it retries with the token it holds. Its successor, which it never saw, is retired."""
    user = await auth_app.create_user()
    first = await auth_app.login(user)
    lost = (await _refresh(auth_app, first["refresh_token"])).json()
    with caplog.at_level(logging.INFO, logger="auth_service.security"):
        retried = await _refresh(auth_app, first["refresh_token"])
    assert retried.status_code == 200, retried.text
    kept = retried.json()
    assert kept["refresh_token"] != lost["refresh_token"]
    assert [r.event for r in caplog.records if hasattr(r, "event")] == ["refresh_token_retry"]
    assert first["refresh_token"] not in caplog.text
    statuses = await auth_app.refresh_family_statuses(first["refresh_token"])
    assert list(statuses.values()).count("active") == 1
    # The client goes on with what it got.
    assert (await _refresh(auth_app, kept["refresh_token"])).status_code == 200


async def test_the_retired_successor_presented_later_is_reuse(auth_app: AuthApp) -> None:
    """Whoever holds the successor that was retired (a thief who replayed, or a client that
    kept the other answer of two) revokes the family by using it: detection is only delayed."""
    user = await auth_app.create_user()
    first = await auth_app.login(user)
    retired = (await _refresh(auth_app, first["refresh_token"])).json()
    kept = (await _refresh(auth_app, first["refresh_token"])).json()
    refused = await _refresh(auth_app, retired["refresh_token"])
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")
    after = await _refresh(auth_app, kept["refresh_token"])
    assert (after.status_code, after.json()["error"]) == (400, "invalid_grant")
    statuses = await auth_app.refresh_family_statuses(first["refresh_token"])
    assert set(statuses.values()) == {"revoked"}


async def test_no_retry_grace_once_the_successor_was_used(auth_app: AuthApp) -> None:
    user = await auth_app.create_user()
    first = await auth_app.login(user)
    second = (await _refresh(auth_app, first["refresh_token"])).json()
    third = (await _refresh(auth_app, second["refresh_token"])).json()
    replay = await _refresh(auth_app, first["refresh_token"])
    assert (replay.status_code, replay.json()["error"]) == (400, "invalid_grant")
    refused = await _refresh(auth_app, third["refresh_token"])
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")


async def test_no_retry_grace_when_it_is_turned_off(auth_database_url: str) -> None:
    async with running_auth(auth_settings(auth_database_url, refresh_reuse_grace_s=0)) as app:
        user = await app.create_user()
        first = await app.login(user)
        second = (await _refresh(app, first["refresh_token"])).json()
        replay = await _refresh(app, first["refresh_token"])
        assert (replay.status_code, replay.json()["error"]) == (400, "invalid_grant")
        refused = await _refresh(app, second["refresh_token"])
        assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")


async def test_revoke_ends_the_grant_and_answers_200(auth_app: AuthApp) -> None:
    user = await auth_app.create_user()
    tokens = await auth_app.login(user)
    response = await auth_app.client.post(
        "/oauth/revoke",
        data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"},
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    refused = await _refresh(auth_app, tokens["refresh_token"])
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")


@pytest.mark.parametrize(
    "token", ["unknown", "eyJhbGciOiJub25lIn0.e30.", "a" * 9000], ids=["garbage", "none", "huge"]
)
async def test_revoke_answers_200_for_tokens_it_does_not_know(
    auth_app: AuthApp, token: str
) -> None:
    response = await auth_app.client.post("/oauth/revoke", data={"token": token})
    assert response.status_code == 200


async def test_revoking_an_access_token_answers_200_and_changes_nothing(
    auth_app: AuthApp,
) -> None:
    user = await auth_app.create_user()
    tokens = await auth_app.login(user)
    response = await auth_app.client.post(
        "/oauth/revoke", data={"token": tokens["access_token"], "token_type_hint": "access_token"}
    )
    assert response.status_code == 200
    assert (await _refresh(auth_app, tokens["refresh_token"])).status_code == 200


async def test_revoke_without_a_token_is_invalid_request(auth_app: AuthApp) -> None:
    response = await auth_app.client.post("/oauth/revoke", data={"token_type_hint": "x"})
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


async def test_a_disabled_user_cannot_refresh(auth_app: AuthApp) -> None:
    user = await auth_app.create_user()
    tokens = await auth_app.login(user)
    headers = await auth_app.admin_headers(user.tenant_id)
    patched = await auth_app.client.patch(
        f"/api/v1/users/{user.id}", json={"disabled": True}, headers=headers
    )
    assert patched.status_code == 200
    refused = await _refresh(auth_app, tokens["refresh_token"])
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")
    # Enabling the account again does not bring the ended sessions back.
    await auth_app.client.patch(
        f"/api/v1/users/{user.id}", json={"disabled": False}, headers=headers
    )
    assert (await _refresh(auth_app, tokens["refresh_token"])).status_code == 400


async def test_an_access_token_is_not_a_refresh_token(auth_app: AuthApp) -> None:
    user = await auth_app.create_user()
    tokens = await auth_app.login(user)
    refused = await _refresh(auth_app, tokens["access_token"])
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")


async def test_an_expired_family_cannot_refresh(auth_app: AuthApp) -> None:
    user = await auth_app.create_user()
    tokens = await auth_app.login(user)
    jti = jwt.decode(tokens["refresh_token"], options={"verify_signature": False})["jti"]
    async with auth_app.resources.engine.begin() as conn:
        await conn.execute(
            text("UPDATE refresh_tokens SET expires_at = now() - interval '1 s' WHERE jti = :j"),
            {"j": jti},
        )
    refused = await _refresh(auth_app, tokens["refresh_token"])
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")
