from __future__ import annotations

import json
import logging
from typing import Literal

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from servicekit.core.logging import scrub
from servicekit.core.settings import ServiceSettings
from servicekit.web.app import create_service_app


class Thing(BaseModel):
    name: str = Field(min_length=1)
    count: int = Field(ge=0)


def _client(access_log: Literal["errors", "all", "off"] = "errors") -> TestClient:
    router = APIRouter()

    @router.post("/things")
    async def make(thing: Thing) -> Thing:
        return thing

    @router.get("/boom")
    async def boom() -> None:
        raise RuntimeError("database password=hunter2 at /srv/secret.py line 12")

    app = create_service_app(
        settings=ServiceSettings(service_name="t", access_log=access_log),
        title="t",
        version="0",
        routers=[router],
    )
    return TestClient(app, raise_server_exceptions=False)


def test_validation_error_is_problem_json_listing_each_field() -> None:
    r = _client().post("/things", json={"name": "", "count": -1})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 422
    assert {e["field"] for e in body["errors"]} == {"name", "count"}


def test_unhandled_exception_is_a_500_problem_without_internals(
    caplog: pytest.LogCaptureFixture,
) -> None:
    r = _client().get("/boom")
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    assert "hunter2" not in r.text
    assert "Traceback" not in r.text
    assert "secret.py" not in r.text
    assert r.json()["title"] == "Internal Server Error"


def test_unknown_route_is_a_404_problem() -> None:
    r = _client().get("/nope")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"


def test_request_id_is_echoed_when_given_and_made_when_absent() -> None:
    client = _client()
    assert (
        client.get("/health/live", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"]
        == "abc-123"
    )
    made = client.get("/health/live").headers["x-request-id"]
    assert len(made) == 32
    # A hostile id (log injection) is replaced, not echoed.
    bad = client.get("/health/live", headers={"X-Request-ID": "a\tb" + "x" * 300})
    assert bad.headers["x-request-id"] != "a\tb" + "x" * 300


@pytest.mark.parametrize(
    "secret",
    [
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
        "Bearer abc.def.ghi",
        "password=hunter2",
        '"client_secret": "s3cr3t"',
        "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----",
    ],
)
def test_scrub_removes_secrets(secret: str) -> None:
    out = scrub(f"before {secret} after")
    for part in ("hunter2", "s3cr3t", "MIIE", "c2lnbmF0dXJl", "abc.def.ghi"):
        assert part not in out
    assert out.startswith("before")


def test_logs_are_one_json_object_per_line_with_request_id(
    capfd: pytest.CaptureFixture[str],
) -> None:
    client = _client(access_log="all")
    client.post("/things", json={"name": "a", "count": 1}, headers={"X-Request-ID": "rid-77"})
    logging.getLogger().handlers[0].flush()
    lines = [ln for ln in capfd.readouterr().err.splitlines() if ln.strip()]
    records = [json.loads(ln) for ln in lines]
    assert any(r.get("request_id") == "rid-77" and r.get("path") == "/things" for r in records)


@pytest.mark.parametrize(
    ("mode", "ok_logged", "error_logged"),
    [("errors", False, True), ("all", True, True), ("off", False, False)],
)
def test_access_log_modes(
    capfd: pytest.CaptureFixture[str],
    mode: Literal["errors", "all", "off"],
    ok_logged: bool,
    error_logged: bool,
) -> None:
    """By default only failures (and slow requests) get a line; metrics count the rest."""
    client = _client(access_log=mode)
    client.post("/things", json={"name": "a", "count": 1}, headers={"X-Request-ID": "ok-1"})
    client.post("/things", json={"name": "", "count": 1}, headers={"X-Request-ID": "bad-1"})
    logging.getLogger().handlers[0].flush()
    records = [json.loads(ln) for ln in capfd.readouterr().err.splitlines() if ln.strip()]
    access = {r.get("request_id") for r in records if r.get("logger") == "servicekit.access"}
    assert ("ok-1" in access) is ok_logged
    assert ("bad-1" in access) is error_logged


def test_500_problem_carries_the_request_id_and_logs_it(capfd: pytest.CaptureFixture[str]) -> None:
    r = _client().get("/boom", headers={"X-Request-ID": "rid-500"})
    assert r.status_code == 500
    assert r.headers["x-request-id"] == "rid-500"
    logging.getLogger().handlers[0].flush()
    records = [json.loads(ln) for ln in capfd.readouterr().err.splitlines() if ln.strip()]
    errors = [r for r in records if r.get("message") == "unhandled error"]
    assert errors
    assert errors[0]["request_id"] == "rid-500"
    assert "hunter2" not in json.dumps(errors)  # the exception text was scrubbed
