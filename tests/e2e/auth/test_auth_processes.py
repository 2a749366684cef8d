"""auth as real uvicorn processes: replicas share one key set, and a resource server's
JWKS verifier follows a key revocation made with the console script."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import jwt
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from servicekit.core.settings import normalize_database_url
from servicekit.verify import InvalidToken, JwksKeySource, TokenVerifier
from tests.support.auth_app import (
    AUDIENCE,
    ISSUER,
    KEK_B64,
    UNLIMITED_TOKEN_REQUESTS,
    fresh_auth_database,
)
from tests.support.backends import Backends
from tests.support.environment import clean_environ
from tests.support.processes import REPO_ROOT, ServiceProcess

APP = "auth_service.main:create_app"
JWKS = "/.well-known/jwks.json"


def _with_unknown_kid(token: str) -> str:
    """The same token under a header naming a kid nobody published (signature now invalid)."""
    header = jwt.get_unverified_header(token) | {"kid": "not-published-anywhere"}
    encoded = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
    return ".".join([encoded, *token.split(".")[1:]])


@pytest.fixture
async def db_url(backends: Backends) -> AsyncIterator[str]:
    async with fresh_auth_database(backends.postgres_url) as url:
        yield url


def _env(db_url: str) -> dict[str, str]:
    return {
        "AUTH_DATABASE_URL": db_url,
        "AUTH_KEY_ENCRYPTION_KEY": KEK_B64,
        "AUTH_ENVIRONMENT": "test",
        "AUTH_ISSUER": ISSUER,
        "AUTH_AUDIENCE": AUDIENCE,
        "AUTH_PASSWORD_HASH_MEMORY_KIB": "8192",
        "AUTH_PASSWORD_HASH_TIME_COST": "1",
        **{f"AUTH_{k.upper()}": str(v) for k, v in UNLIMITED_TOKEN_REQUESTS.items()},
    }


def _cli(db_url: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "auth_service.cli", *args],
        env={**clean_environ(), **_env(db_url)},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _start_together(procs: list[ServiceProcess]) -> None:
    errors: list[BaseException] = []

    def start(proc: ServiceProcess) -> None:
        try:
            proc.start()
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(p,)) for p in procs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


async def test_replicas_starting_together_create_and_serve_one_key_set(
    db_url: str, tmp_path: Path
) -> None:
    replicas = [ServiceProcess(APP, _env(db_url), tmp_path / f"auth-{i}.log") for i in range(2)]
    try:
        await asyncio.to_thread(_start_together, replicas)
        async with httpx.AsyncClient() as http:
            documents = [await http.get(r.base_url + "/.well-known/jwks.json") for r in replicas]
        assert documents[0].content == documents[1].content
        assert documents[0].headers["etag"] == documents[1].headers["etag"]
        assert len(documents[0].json()["keys"]) == 2  # one active, one next
        engine = create_async_engine(normalize_database_url(db_url))
        try:
            async with engine.connect() as conn:
                rows = (
                    await conn.execute(
                        text("SELECT purpose, status, count(*) FROM signing_keys GROUP BY 1, 2")
                    )
                ).all()
        finally:
            await engine.dispose()
        assert sorted(tuple(r) for r in rows) == [
            ("access", "active", 1),
            ("access", "next", 1),
            ("refresh", "active", 1),
            ("refresh", "next", 1),
        ]
    finally:
        for replica in replicas:
            await asyncio.to_thread(replica.stop)


async def _client_token(
    base_url: str, client_id: str, secret: str, *, resource: str | None = None
) -> str:
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    if resource is not None:
        form["resource"] = resource
    async with httpx.AsyncClient() as http:
        response = await http.post(base_url + "/oauth/token", data=form)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def test_a_jwks_verifier_stops_accepting_a_revoked_keys_tokens_after_its_next_refresh(
    db_url: str, tmp_path: Path
) -> None:
    auth = await asyncio.to_thread(ServiceProcess(APP, _env(db_url), tmp_path / "auth.log").start)
    source = JwksKeySource(auth.base_url + "/.well-known/jwks.json", cooldown_s=0)
    try:
        created = await asyncio.to_thread(
            _cli,
            db_url,
            *("clients", "create", "--name", "orders", "--role", "editor"),
            *("--tenant", "acme"),
        )
        values = dict(line.split("=", 1) for line in created.splitlines() if "=" in line)
        old = await _client_token(auth.base_url, values["client_id"], values["client_secret"])
        # The same key signs tokens for auth's own API (audience: the issuer).
        old_for_auth = await _client_token(
            auth.base_url, values["client_id"], values["client_secret"], resource=ISSUER
        )
        verifier = TokenVerifier(key_source=source, issuer=ISSUER, audience=AUDIENCE)
        principal = await verifier.verify(old)
        assert (principal.client_id, principal.tenant_id, principal.roles) == (
            values["client_id"],
            "acme",
            ("editor",),
        )
        kid = jwt.get_unverified_header(old)["kid"]

        out = await asyncio.to_thread(_cli, db_url, "keys", "revoke", kid)
        assert f"access: revoked {kid}" in out
        async with httpx.AsyncClient(base_url=auth.base_url) as http:
            deadline = time.monotonic() + 5
            while kid in {k["kid"] for k in (await http.get(JWKS)).json()["keys"]}:
                assert time.monotonic() < deadline, "the revoked key is still published"
                await asyncio.sleep(0.05)
            # The running auth itself refuses the old token at once.
            me = await http.get(
                "/api/v1/users/me", headers={"Authorization": f"Bearer {old_for_auth}"}
            )
            assert me.status_code == 401

        # Until its next refresh the verifier still trusts its cached key set (max-age).
        assert (await verifier.verify(old)).client_id == values["client_id"]
        # Its next refresh (here: forced by a token with a kid it does not know) drops the key
        # and the cached claims with it.
        with pytest.raises(InvalidToken):
            await verifier.verify(_with_unknown_kid(old))
        with pytest.raises(InvalidToken):
            await verifier.verify(old)
        # Tokens from the key that took over verify.
        new = await _client_token(auth.base_url, values["client_id"], values["client_secret"])
        assert jwt.get_unverified_header(new)["kid"] != kid
        assert (await verifier.verify(new)).client_id == values["client_id"]
    finally:
        await source.aclose()
        await asyncio.to_thread(auth.stop)
