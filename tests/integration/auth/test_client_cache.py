"""The per-replica cache of service clients' rows (clients._cache) never outlives a disable or
a secret rotation by more than its TTL, and the replica whose admin API made the change
stops using the old row at once."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from auth_service.clients._cache import CredentialsCache
from auth_service.clients.schemas import ClientCredentials
from tests.support.auth_app import AuthApp, Client, auth_settings, running_auth

TTL_S = 1.0


@pytest.fixture
async def cached(auth_database_url: str) -> AsyncIterator[AuthApp]:
    async with running_auth(auth_settings(auth_database_url, client_cache_ttl_s=TTL_S)) as app:
        yield app


async def _token_status(app: AuthApp, client: Client, secret: str | None = None) -> int:
    raw = f"{client.client_id}:{secret or client.secret}".encode()
    response = await app.token(
        {"grant_type": "client_credentials"},
        headers={"Authorization": "Basic " + base64.b64encode(raw).decode()},
    )
    return response.status_code


async def test_a_client_disabled_elsewhere_stops_within_the_ttl(cached: AuthApp) -> None:
    client = await cached.create_client()
    assert await _token_status(cached, client) == 200  # its row is cached now
    # Disabled as another replica (or SQL) would: this replica's cache is not told.
    async with cached.resources.engine.begin() as conn:
        await conn.execute(
            text("UPDATE service_clients SET disabled = true WHERE client_id = :c"),
            {"c": client.client_id},
        )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TTL_S + 0.5
    while await _token_status(cached, client) == 200:
        assert loop.time() < deadline, "the cached row outlived its TTL"
        await asyncio.sleep(0.05)
    assert await _token_status(cached, client) == 401


async def test_the_admin_api_evicts_its_own_replicas_copy_at_once(cached: AuthApp) -> None:
    client = await cached.create_client(tenant_id="cache-t")
    headers = await cached.admin_headers(tenant_id="cache-t")
    assert await _token_status(cached, client) == 200
    path = f"/api/v1/clients/{client.client_id}"
    rotated = await cached.client.post(f"{path}/secret", headers=headers)
    assert rotated.status_code == 200
    assert await _token_status(cached, client) == 401  # the old secret, at once
    assert await _token_status(cached, client, rotated.json()["client_secret"]) == 200
    disabled = await cached.client.patch(path, json={"disabled": True}, headers=headers)
    assert disabled.status_code == 200
    assert await _token_status(cached, client, rotated.json()["client_secret"]) == 401


def test_entries_expire_unknown_ids_are_not_kept_and_size_is_bounded() -> None:
    now = [0.0]
    cache = CredentialsCache(5.0, max_entries=2, clock=lambda: now[0])
    rows = [ClientCredentials(f"c{i}", b"d", ("viewer",), "t", False) for i in range(3)]
    for row in rows:
        cache.put(row)
    assert cache.get("c0") is None  # evicted: at most two kept
    assert cache.get("c2") == rows[2]
    now[0] = 5.0
    assert cache.get("c2") is None  # expired at exactly its TTL
    off = CredentialsCache(0)
    off.put(rows[0])
    assert off.get("c0") is None
