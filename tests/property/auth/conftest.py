"""One auth app for the module's tests, on the session's migrated database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.auth_app import AuthApp, auth_settings, running_auth


@pytest.fixture(scope="session")
async def auth_app(auth_database_url: str) -> AsyncIterator[AuthApp]:
    async with running_auth(auth_settings(auth_database_url)) as app:
        yield app
