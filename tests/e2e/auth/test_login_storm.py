"""A burst of password logins must not starve the connection pool (issue 12).

argon2 runs in two slots; a login that waited for one while holding a pooled connection (and a
row lock) let ~15 parallel logins for unknown users starve refresh, the admin API and
`/health/ready`, and the pods went unready. Here 30 run at once against the real process, at
the production argon2 cost, with a small pool, while readiness must answer 200 within 1 s and
a refresh grant succeed within 2 s.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.support.auth_app import KEK_B64, PASSWORD, UNLIMITED_TOKEN_REQUESTS, fresh_auth_database
from tests.support.backends import Backends
from tests.support.processes import REPO_ROOT, ServiceProcess

STORM = 30
READY_WITHIN_S = 1.0
REFRESH_WITHIN_S = 2.0


@pytest.fixture
async def db_url(backends: Backends) -> AsyncIterator[str]:
    async with fresh_auth_database(backends.postgres_url) as url:
        yield url


def _env(db_url: str) -> dict[str, str]:
    # argon2 at its default memory and time cost, one lane per hash (two slots then use the
    # two cores a CI runner has: the event loop still gets its share); a pool smaller than the
    # storm, so a connection held while queued for a slot would starve the rest at once.
    return {
        "AUTH_PASSWORD_HASH_PARALLELISM": "1",
        "AUTH_DATABASE_URL": db_url,
        "AUTH_KEY_ENCRYPTION_KEY": KEK_B64,
        "AUTH_ENVIRONMENT": "test",
        "AUTH_DATABASE_POOL_SIZE": "5",
        "AUTH_DATABASE_MAX_OVERFLOW": "0",
        **{f"AUTH_{k.upper()}": str(v) for k, v in UNLIMITED_TOKEN_REQUESTS.items()},
    }


def _create_user(db_url: str, email: str) -> None:
    done = subprocess.run(
        [
            *(sys.executable, "-m", "auth_service.cli", "users", "create"),
            *("--email", email, "--role", "viewer", "--tenant", "storm"),
        ],
        env={**os.environ, **_env(db_url)},
        input=PASSWORD + "\n",
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr


async def test_thirty_unknown_user_logins_leave_readiness_and_refresh_alone(
    db_url: str, tmp_path: Path
) -> None:
    email = "storm-user@example.com"
    await asyncio.to_thread(_create_user, db_url, email)
    auth = ServiceProcess("auth_service.main:create_app", _env(db_url), tmp_path / "auth.log")
    auth.start(timeout_s=90)
    try:
        limits = httpx.Limits(max_connections=STORM + 10)
        async with httpx.AsyncClient(base_url=auth.base_url, timeout=60, limits=limits) as http:
            login = await http.post(
                "/oauth/token",
                data={"grant_type": "password", "username": email, "password": PASSWORD},
            )
            assert login.status_code == 200, login.text
            refresh_token = login.json()["refresh_token"]

            storm = [
                asyncio.create_task(
                    http.post(
                        "/oauth/token",
                        data={
                            "grant_type": "password",
                            "username": f"nobody-{i}@example.com",
                            "password": "a wrong password",
                        },
                    )
                )
                for i in range(STORM)
            ]
            # Let every storm request reach the server before measuring.
            await asyncio.sleep(0)
            ready_times: list[float] = []
            started = time.monotonic()
            refresh = await http.post(
                "/oauth/token",
                data={"grant_type": "refresh_token", "refresh_token": refresh_token},
            )
            refresh_s = time.monotonic() - started
            assert refresh.status_code == 200, refresh.text
            while not all(task.done() for task in storm):
                started = time.monotonic()
                ready = await http.get("/health/ready")
                ready_times.append(time.monotonic() - started)
                assert ready.status_code == 200, ready.text
            answers = await asyncio.gather(*storm)
        assert {a.status_code for a in answers} == {400}
        assert refresh_s < REFRESH_WITHIN_S, f"refresh took {refresh_s:.2f}s"
        assert ready_times, "the storm was over before readiness was asked"
        assert max(ready_times) < READY_WITHIN_S, f"readiness took {max(ready_times):.2f}s"
    finally:
        auth.stop()
