"""A dependency outage is a 503 problem with Retry-After, never a 500 that reads as a bug."""

from __future__ import annotations

import asyncpg
import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.exc import OperationalError, ProgrammingError

from servicekit.core.settings import ServiceSettings
from servicekit.core.unavailable import dependency_unavailable
from servicekit.web.app import create_service_app


class _UndefinedTableError(Exception):
    sqlstate = "42P01"


class _BadSyntaxError(Exception):
    sqlstate = "42601"


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(111, "refused"),
        TimeoutError(),
        RedisConnectionError("down"),
        asyncpg.CannotConnectNowError("starting"),
        OperationalError("SELECT 1", {}, ConnectionResetError()),
        ProgrammingError("SELECT * FROM t", {}, _UndefinedTableError()),
    ],
)
def test_outages_are_recognised(exc: Exception) -> None:
    assert dependency_unavailable(exc)


@pytest.mark.parametrize(
    "exc",
    [ValueError("bug"), KeyError("k"), ProgrammingError("SELEC", {}, _BadSyntaxError())],
)
def test_bugs_are_not_mistaken_for_outages(exc: Exception) -> None:
    assert not dependency_unavailable(exc)


def test_outage_answers_503_problem_with_retry_after() -> None:
    router = APIRouter()

    @router.get("/down")
    async def down() -> None:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError(111, "refused"))

    @router.get("/bug")
    async def bug() -> None:
        raise ValueError("bug")

    app = create_service_app(settings=ServiceSettings(), title="t", version="0", routers=[router])
    client = TestClient(app, raise_server_exceptions=False)
    r = client.get("/down")
    assert r.status_code == 503
    assert r.headers["retry-after"] == "1"
    assert r.headers["content-type"] == "application/problem+json"
    assert "SELECT" not in r.text
    assert client.get("/bug").status_code == 500
