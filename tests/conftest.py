"""Fixtures shared by every tier: servers once per session, a fresh database per service."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from hypothesis import HealthCheck, settings
from redis.asyncio import Redis

from servicekit.migrations import upgrade_head
from tests.support.backends import Backends, create_database, drop_database, open_backends

# Bounded Hypothesis profiles: `ci` keeps `make test` inside its time budget; `thorough` is
# for local runs (`HYPOTHESIS_PROFILE=thorough make test`).
settings.register_profile(
    "ci",
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
settings.register_profile(
    "dev", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(scope="session")
def backends() -> Iterator[Backends]:
    with open_backends() as found:
        yield found


async def _migrated_database(server_url: str, section: str) -> str:
    url = await create_database(server_url, f"test_{section}")
    await asyncio.to_thread(upgrade_head, section, url)
    return url


@pytest.fixture(scope="session")
async def auth_database_url(backends: Backends) -> AsyncIterator[str]:
    """A database for this run, migrated to auth's head, dropped at the end."""
    url = await _migrated_database(backends.postgres_url, "auth")
    yield url
    await drop_database(url)


@pytest.fixture(scope="session")
async def orders_database_url(backends: Backends) -> AsyncIterator[str]:
    """A database for this run, migrated to orders' head, dropped at the end."""
    url = await _migrated_database(backends.postgres_url, "orders")
    yield url
    await drop_database(url)


@pytest.fixture
async def redis_client(backends: Backends) -> AsyncIterator[Redis]:
    client = Redis.from_url(backends.redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def redis_prefix() -> str:
    """Keys a test writes live under its own prefix, so tests never see each other's keys."""
    return f"test:{uuid.uuid4().hex[:12]}:"
