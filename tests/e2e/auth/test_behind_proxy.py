"""auth behind a real reverse proxy (nginx), started as production starts it (`auth-service
serve`): clients are told apart by the X-Forwarded-For the proxy sets, but only because
AUTH_FORWARDED_ALLOW_IPS names the proxy, so junk from one client never spends another's
per-address budget. The proxy connects from 127.0.0.2, as an ingress pod connects from an
address that is not the pod's own loopback."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.auth_app import KEK_B64, fresh_auth_database
from tests.support.backends import Backends
from tests.support.nginx import Nginx, one_upstream_config
from tests.support.processes import ServiceProcess

PROXY_ADDRESS = "127.0.0.2"
BURST = 5


@pytest.fixture
async def db_url(backends: Backends) -> AsyncIterator[str]:
    async with fresh_auth_database(backends.postgres_url) as url:
        yield url


def _env(db_url: str, **extra: str) -> dict[str, str]:
    return {
        "AUTH_DATABASE_URL": db_url,
        "AUTH_KEY_ENCRYPTION_KEY": KEK_B64,
        "AUTH_ENVIRONMENT": "test",
        "AUTH_PASSWORD_HASH_MEMORY_KIB": "8192",
        "AUTH_PASSWORD_HASH_TIME_COST": "1",
        # A small per-address budget that no test would spend by itself in a minute.
        "AUTH_TOKEN_REQUESTS_PER_IP_PER_MINUTE": "1",
        "AUTH_TOKEN_BURST_PER_IP": str(BURST),
        **extra,
    }


@pytest.fixture
def proxied_auth(db_url: str, tmp_path: Path) -> Iterator[Nginx]:
    auth = ServiceProcess(
        "auth_service.main:create_app",
        _env(db_url, AUTH_FORWARDED_ALLOW_IPS=PROXY_ADDRESS),
        tmp_path / "auth.log",
        command=("-m", "auth_service.cli", "serve"),
    ).start(timeout_s=90)
    proxy = Nginx(tmp_path / "nginx")
    try:
        yield proxy.start(one_upstream_config(proxy, auth.base_url, bind_address=PROXY_ADDRESS))
    finally:
        proxy.stop()
        auth.stop()


def _client_at(base_url: str, address: str) -> httpx.AsyncClient:
    """A client whose connections come from `address` (any 127/8 address is loopback)."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=base_url, transport=transport, timeout=10)


JUNK = {"grant_type": "client_credentials", "client_id": "svc_none", "client_secret": "junk"}


async def test_junk_from_one_client_never_429s_another(proxied_auth: Nginx) -> None:
    async with (
        _client_at(proxied_auth.url, "127.0.0.3") as noisy,
        _client_at(proxied_auth.url, "127.0.0.4") as quiet,
    ):
        # Each junk request names a different forwarded address: a client cannot spoof its
        # way out of its budget, since only the proxy's own hop is believed.
        answers = [
            (
                await noisy.post(
                    "/oauth/token",
                    data={**JUNK, "client_id": f"svc_{uuid.uuid4().hex[:8]}"},
                    headers={"X-Forwarded-For": f"198.51.100.{i}"},
                )
            ).status_code
            for i in range(20)
        ]
        assert answers[:BURST] == [401] * BURST
        assert set(answers[BURST:]) == {429}
        others = [(await quiet.post("/oauth/token", data=JUNK)).status_code for _ in range(BURST)]
        assert others == [401] * BURST  # a budget of its own, untouched by the noise
        assert (await quiet.post("/oauth/token", data=JUNK)).status_code == 429
        # The proxy's health checks and discovery are not token requests: never limited.
        assert (await noisy.get("/.well-known/jwks.json")).status_code == 200
