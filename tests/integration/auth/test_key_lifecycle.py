"""Key life cycle on a database of its own: next -> active -> retired -> removed, and revoked."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import load_der_private_key
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from auth_service import cli
from auth_service.keys._crypto import KeyDecryptionError, KeyWrapper, public_key_from_members
from auth_service.keys.models import KeyPurpose, KeyStatus
from auth_service.keys.service import (
    KeyChange,
    KeyEncryptionKeyMismatchError,
    KeyPolicy,
    KeyService,
)
from auth_service.settings import get_settings
from servicekit.data.db import create_engine, create_sessionmaker
from tests.support.auth_app import ISSUER, KEK_B64, AuthApp, auth_settings, running_auth
from tests.support.auth_app import fresh_auth_database as fresh_database
from tests.support.backends import Backends
from tests.support.environment import clean_environ
from tests.support.processes import REPO_ROOT

WRAPPER = KeyWrapper(base64.b64decode(KEK_B64))


@pytest.fixture
async def db_url(backends: Backends) -> AsyncIterator[str]:
    async with fresh_database(backends.postgres_url) as url:
        yield url


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(auth_settings(db_url))
    yield eng
    await eng.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@pytest.fixture
def policy(db_url: str) -> KeyPolicy:
    return KeyPolicy.from_settings(auth_settings(db_url))


async def _ensure(
    sessions: async_sessionmaker[AsyncSession], policy: KeyPolicy, *, now: datetime
) -> list[KeyChange]:
    async with sessions.begin() as session:
        return await KeyService(session, policy=policy, wrapper=WRAPPER).ensure_keys(
            now=now, replace_unopenable=False
        )


async def _rotate(
    sessions: async_sessionmaker[AsyncSession],
    policy: KeyPolicy,
    *,
    now: datetime,
    force: bool = False,
) -> list[KeyChange]:
    async with sessions.begin() as session:
        return await KeyService(session, policy=policy, wrapper=WRAPPER).rotate(
            purposes=[KeyPurpose.ACCESS], now=now, force=force
        )


async def _states(engine: AsyncEngine) -> dict[str, list[str]]:
    """status -> kids, access keys only."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT kid, status FROM signing_keys WHERE purpose = 'access' ORDER BY kid")
        )
        out: dict[str, list[str]] = {}
        for kid, status in rows:
            out.setdefault(status, []).append(kid)
        return out


async def test_replicas_starting_together_create_one_active_and_one_next_key(
    sessions: async_sessionmaker[AsyncSession], policy: KeyPolicy, engine: AsyncEngine
) -> None:
    now = datetime.now(UTC)
    results = await asyncio.gather(*(_ensure(sessions, policy, now=now) for _ in range(4)))
    assert sum(1 for changes in results if changes) == 1  # one replica did the work
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text("SELECT purpose, status, count(*) FROM signing_keys GROUP BY 1, 2")
            )
        ).all()
    assert sorted(tuple(r) for r in rows) == [
        ("access", "active", 1),
        ("access", "next", 1),
        ("refresh", "active", 1),
        ("refresh", "next", 1),
    ]


async def test_private_keys_are_encrypted_at_rest(
    sessions: async_sessionmaker[AsyncSession], policy: KeyPolicy, engine: AsyncEngine
) -> None:
    await _ensure(sessions, policy, now=datetime.now(UTC))
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT kid, purpose, public_n, public_e, private_key_wrapped FROM signing_keys"
                )
            )
        ).all()
    assert len(rows) == 4
    rsa_encryption_oid = bytes.fromhex("2a864886f70d010101")
    for kid, purpose, n, e, blob in rows:
        blob = bytes(blob)
        assert b"PRIVATE KEY" not in blob
        assert rsa_encryption_oid not in blob  # no PKCS#8 DER in clear either
        with pytest.raises(ValueError):  # noqa: PT011 - any parse failure will do
            load_der_private_key(blob, password=None)
        opened = WRAPPER.unwrap(blob, kid=kid, purpose=purpose)
        assert (
            opened.public_key().public_numbers() == public_key_from_members(n, e).public_numbers()
        )
        with pytest.raises(KeyDecryptionError):
            KeyWrapper(os.urandom(32)).unwrap(blob, kid=kid, purpose=purpose)
        with pytest.raises(KeyDecryptionError):  # bound to its row: copied elsewhere it fails
            WRAPPER.unwrap(blob, kid="another-kid", purpose=purpose)


async def test_production_refuses_an_active_key_wrapped_under_another_kek(
    sessions: async_sessionmaker[AsyncSession], policy: KeyPolicy, engine: AsyncEngine
) -> None:
    await _ensure(sessions, policy, now=datetime.now(UTC))
    before = await _states(engine)
    with pytest.raises(KeyEncryptionKeyMismatchError, match="AUTH_KEY_ENCRYPTION_KEY"):
        async with sessions.begin() as session:
            await KeyService(
                session, policy=policy, wrapper=KeyWrapper(os.urandom(32))
            ).ensure_keys(now=datetime.now(UTC), replace_unopenable=False)
    assert await _states(engine) == before
    # Development replaces what it cannot open (retired, so its tokens still verify).
    async with sessions.begin() as session:
        await KeyService(session, policy=policy, wrapper=KeyWrapper(os.urandom(32))).ensure_keys(
            now=datetime.now(UTC), replace_unopenable=True
        )
    after = await _states(engine)
    assert sorted(after["retired"]) == sorted(before["active"] + before["next"])


async def test_a_next_key_is_published_before_it_signs(db_url: str) -> None:
    async with running_auth(auth_settings(db_url)) as app:
        client = await app.create_client()
        token = await app.client_token(client, resource=ISSUER)
        async with app.resources.engine.connect() as conn:
            nxt = (
                await conn.execute(
                    text("SELECT kid FROM signing_keys WHERE purpose='access' AND status='next'")
                )
            ).scalar_one()
        jwks = (await app.client.get("/.well-known/jwks.json")).json()
        assert nxt in {k["kid"] for k in jwks["keys"]}
        assert jwt.get_unverified_header(token)["kid"] != nxt


async def test_promotion_waits_until_the_next_key_was_published_for_max_age(
    sessions: async_sessionmaker[AsyncSession], policy: KeyPolicy, engine: AsyncEngine
) -> None:
    start = datetime.now(UTC)
    await _ensure(sessions, policy, now=start)
    before = await _states(engine)
    assert policy.access_publish_wait >= timedelta(seconds=300)  # max-age + reload interval
    too_early = start + policy.access_publish_wait - timedelta(seconds=1)
    changes = await _rotate(sessions, policy, now=too_early, force=True)
    assert [c.action for c in changes] == ["waiting"]
    assert await _states(engine) == before
    changes = await _rotate(sessions, policy, now=start + policy.access_publish_wait, force=True)
    assert [c.action for c in changes] == ["rotated"]
    after = await _states(engine)
    assert after["active"] == before["next"]
    assert after["retired"] == before["active"]
    assert len(after["next"]) == 1
    assert after["next"] != before["next"]


async def test_rotation_without_force_waits_for_the_rotation_period(
    sessions: async_sessionmaker[AsyncSession], policy: KeyPolicy, engine: AsyncEngine
) -> None:
    start = datetime.now(UTC)
    await _ensure(sessions, policy, now=start)
    changes = await _rotate(sessions, policy, now=start + policy.rotation_period / 2)
    assert [c.action for c in changes] == ["not-due"]
    changes = await _rotate(sessions, policy, now=start + policy.rotation_period)
    assert [c.action for c in changes] == ["rotated"]


async def test_prune_removes_retired_keys_only_after_their_grace_period(
    sessions: async_sessionmaker[AsyncSession], policy: KeyPolicy, engine: AsyncEngine
) -> None:
    start = datetime.now(UTC)
    await _ensure(sessions, policy, now=start)
    rotated_at = start + policy.rotation_period
    await _rotate(sessions, policy, now=rotated_at)
    retired = (await _states(engine))["retired"]

    async def prune(now: datetime) -> list[KeyChange]:
        async with sessions.begin() as session:
            return await KeyService(session, policy=policy).prune(now=now)

    assert await prune(rotated_at + policy.access_grace - timedelta(seconds=1)) == []
    assert "retired" in await _states(engine)
    pruned = await prune(rotated_at + policy.access_grace)
    assert [c.kid for c in pruned] == retired
    assert "retired" not in await _states(engine)
    assert policy.access_grace == timedelta(seconds=900 + 300 + 30)


def _cli(db_url: str, *args: str) -> subprocess.Popen[str]:
    env = {
        **clean_environ(),
        "AUTH_DATABASE_URL": db_url,
        "AUTH_KEY_ENCRYPTION_KEY": KEK_B64,
        "AUTH_ENVIRONMENT": "test",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "auth_service.cli", *args],
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def test_concurrent_rotate_from_two_processes_makes_exactly_one_rotation(
    db_url: str,
    sessions: async_sessionmaker[AsyncSession],
    policy: KeyPolicy,
    engine: AsyncEngine,
) -> None:
    # Keys made 40 days ago: rotation is due and the next keys were published long enough.
    await _ensure(sessions, policy, now=datetime.now(UTC) - timedelta(days=40))
    before = await _states(engine)
    procs = [_cli(db_url, "keys", "rotate") for _ in range(2)]
    outputs = [await asyncio.to_thread(p.communicate, timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    after = await _states(engine)
    assert after["retired"] == before["active"]
    assert after["active"] == before["next"]
    assert len(after["next"]) == 1
    rotated_lines = [
        line
        for out, _ in outputs
        for line in out.splitlines()
        if line.startswith("access: rotated")
    ]
    assert len(rotated_lines) == 1, outputs
    async with engine.connect() as conn:
        refresh_retired = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM signing_keys WHERE purpose='refresh' AND status='retired'"
                )
            )
        ).scalar_one()
    assert refresh_retired == 1


async def _cli_in_thread(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    db_url: str,
    *args: str,
    kek: bool = True,
) -> tuple[int, str, str]:
    """The console script's main() in a thread (its own event loop), with its env set."""
    monkeypatch.setenv("AUTH_DATABASE_URL", db_url)
    monkeypatch.setenv("AUTH_ENVIRONMENT", "test")
    if kek:
        monkeypatch.setenv("AUTH_KEY_ENCRYPTION_KEY", KEK_B64)
    else:
        monkeypatch.delenv("AUTH_KEY_ENCRYPTION_KEY", raising=False)
    get_settings.cache_clear()
    try:
        code = await asyncio.to_thread(cli.main, list(args))
    finally:
        get_settings.cache_clear()
    out, err = capsys.readouterr()
    return code, out, err


async def _until(app: AuthApp, condition: str, kid: str, *, timeout_s: float = 10.0) -> float:
    """Seconds until `kid` is (condition="in") or is not (condition="out") in the app's JWKS.
    The app reloads on the change notification; this polls only to observe it."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        kids = {k["kid"] for k in (await app.client.get("/.well-known/jwks.json")).json()["keys"]}
        if (kid in kids) == (condition == "in"):
            return time.monotonic() - started
        await asyncio.sleep(0.02)
    raise AssertionError(f"{kid} not {condition} the JWKS after {timeout_s}s")


# The app's periodic reload of the keys, long here: a key set change seen well before it came
# through the change notification, however slow the machine.
RELOAD_INTERVAL_S = 120.0


async def test_revoke_drops_the_key_from_jwks_at_once_and_its_tokens_stop_verifying(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = auth_settings(db_url, key_reload_interval_s=RELOAD_INTERVAL_S)
    async with running_auth(settings) as app:
        user = await app.create_user()
        token = (await app.login(user, resource=ISSUER))["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert (await app.client.get("/api/v1/users/me", headers=headers)).status_code == 200
        active = app.keyring.signer(KeyPurpose.ACCESS).kid
        # The command's own engine and transaction, like an operator's shell.
        code, out, err = await _cli_in_thread(monkeypatch, capsys, db_url, "keys", "revoke", active)
        assert code == 0, err
        assert f"access: revoked {active}" in out
        # Within the reload interval: the notification did it, not the periodic reload.
        await _until(app, "out", active, timeout_s=RELOAD_INTERVAL_S / 2)
        response = await app.client.get("/api/v1/users/me", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        # The next key took over at once, and a new next key is already published.
        assert app.keyring.signer(KeyPurpose.ACCESS).kid != active
        fresh = await app.login(user, resource=ISSUER)
        fresh_headers = {"Authorization": "Bearer " + fresh["access_token"]}
        assert (await app.client.get("/api/v1/users/me", headers=fresh_headers)).status_code == 200


async def test_a_retired_key_keeps_verifying_in_a_running_app(
    db_url: str, sessions: async_sessionmaker[AsyncSession], policy: KeyPolicy
) -> None:
    await _ensure(sessions, policy, now=datetime.now(UTC) - timedelta(days=40))
    settings = auth_settings(db_url, key_reload_interval_s=RELOAD_INTERVAL_S)
    async with running_auth(settings) as app:
        user = await app.create_user()
        old = (await app.login(user, resource=ISSUER))["access_token"]
        old_kid = app.keyring.signer(KeyPurpose.ACCESS).kid
        await _rotate(sessions, policy, now=datetime.now(UTC))
        # The notification reaches the app's watcher (long before the periodic reload).
        deadline = time.monotonic() + RELOAD_INTERVAL_S / 2
        while app.keyring.signer(KeyPurpose.ACCESS).kid == old_kid:
            assert time.monotonic() < deadline, "the rotation never reached the app"
            await asyncio.sleep(0.01)
        assert old_kid in app.keyring.published_kids()
        headers = {"Authorization": f"Bearer {old}"}
        assert (await app.client.get("/api/v1/users/me", headers=headers)).status_code == 200


async def test_keys_list_shows_every_key_and_revoking_an_unknown_kid_fails(
    db_url: str,
    sessions: async_sessionmaker[AsyncSession],
    policy: KeyPolicy,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await _ensure(sessions, policy, now=datetime.now(UTC))
    code, out, _ = await _cli_in_thread(monkeypatch, capsys, db_url, "keys", "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("kid")
    assert sorted((line.split()[1], line.split()[2]) for line in lines[1:]) == [
        ("access", KeyStatus.ACTIVE.value),
        ("access", KeyStatus.NEXT.value),
        ("refresh", KeyStatus.ACTIVE.value),
        ("refresh", KeyStatus.NEXT.value),
    ]
    code, _, err = await _cli_in_thread(
        monkeypatch, capsys, db_url, "keys", "revoke", "no-such-kid"
    )
    assert code == 1
    assert "no-such-kid" in err
    # A kid is a base64url thumbprint and may start with "-": still an operand, not an option
    # (found when a random kid did; argparse answered "the following arguments are required").
    code, _, err = await _cli_in_thread(
        monkeypatch, capsys, db_url, "keys", "revoke", "-e_-no-such-kid"
    )
    assert code == 1
    assert "-e_-no-such-kid" in err


async def test_rotate_refuses_to_run_without_the_key_encryption_key(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = await _cli_in_thread(monkeypatch, capsys, db_url, "keys", "rotate", kek=False)
    assert code == 1
    assert "AUTH_KEY_ENCRYPTION_KEY" in err


async def test_rotate_refuses_to_promote_a_next_key_wrapped_under_another_kek(
    sessions: async_sessionmaker[AsyncSession], policy: KeyPolicy, engine: AsyncEngine
) -> None:
    await _ensure(sessions, policy, now=datetime.now(UTC) - timedelta(days=40))
    before = await _states(engine)
    async with sessions.begin() as session:
        changes = await KeyService(
            session, policy=policy, wrapper=KeyWrapper(os.urandom(32))
        ).rotate(purposes=[KeyPurpose.ACCESS], now=datetime.now(UTC))
    assert [c.action for c in changes] == ["refused"]
    assert await _states(engine) == before


async def test_the_cronjob_command_rotates_and_prunes_in_one_run(
    db_url: str,
    sessions: async_sessionmaker[AsyncSession],
    policy: KeyPolicy,
    engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    now = datetime.now(UTC)
    await _ensure(sessions, policy, now=now - timedelta(days=80))
    await _rotate(sessions, policy, now=now - timedelta(days=40))
    long_retired = (await _states(engine))["retired"]
    code, out, err = await _cli_in_thread(
        monkeypatch, capsys, db_url, "keys", "rotate", "--purpose", "access", "--prune"
    )
    assert code == 0, err
    assert "access: rotated" in out
    assert f"access: pruned {long_retired[0]}" in out
    after = await _states(engine)
    assert long_retired[0] not in after.get("retired", [])
    assert len(after["retired"]) == 1  # the key retired just now stays for its grace period
