"""The harness is not vacuous: on an app with planted defects, each check fails as it should."""

from __future__ import annotations

from typing import Any

import pytest
import requests
import schemathesis
from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, PlainTextResponse
from schemathesis import Response
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.schemas import OpenApiSchema

from servicekit.core.problems import ProblemError
from servicekit.core.settings import ServiceSettings
from servicekit.web.app import create_service_app
from tests.fuzz.harness import call_and_validate, fuzz_config, protective_headers


def _planted() -> OpenApiSchema:
    router = APIRouter()

    @router.get("/plain-error")
    async def plain_error() -> PlainTextResponse:
        return PlainTextResponse("nope", status_code=400)

    @router.get("/wrong-status")
    async def wrong_status() -> JSONResponse:
        return JSONResponse(
            {"type": "about:blank", "title": "Conflict", "status": 400},
            status_code=409,
            media_type="application/problem+json",
        )

    @router.get("/names-server")
    async def names_server() -> JSONResponse:
        return JSONResponse({}, headers={"Server": "gunicorn/23.0"})

    @router.get("/crash")
    async def crash(n: int = Query(default=0)) -> dict[str, int]:
        if n == 0:  # a 5xx, as the problem handler answers an unhandled error
            raise ProblemError(500, detail="An unexpected error occurred.")
        return {"n": n}

    @router.get("/fine")
    async def fine() -> dict[str, bool]:
        return {"fine": True}

    app = create_service_app(
        settings=ServiceSettings(service_name="planted"), title="p", version="0", routers=[router]
    )
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=fuzz_config())


PLANTED = _planted()


def _case(path: str, **kwargs: Any) -> schemathesis.Case[Any]:
    return PLANTED[path]["GET"].Case(**kwargs)


@pytest.mark.parametrize(
    ("path", "kwargs", "message"),
    [
        ("/plain-error", {}, "is not a problem+json"),
        ("/wrong-status", {}, "`status` differs"),
        ("/names-server", {}, "`Server` header present"),
        ("/crash", {"query": {"n": 0}}, "Server error"),
    ],
)
def test_each_planted_defect_fails_the_checks(
    path: str, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(FailureGroup) as info:
        call_and_validate(_case(path, **kwargs), None, {})
    assert message in str(info.value)


def test_an_authenticated_answer_without_a_cache_policy_fails() -> None:
    """Authenticated answers get no-store from the middleware; one without it fails the check."""
    response = call_and_validate(_case("/fine"), None, {"Authorization": "Bearer x"})
    assert response.headers["cache-control"] == ["no-store"]
    request = requests.Request(
        "GET", "http://t/fine", headers={"Authorization": "Bearer x"}
    ).prepare()
    bare = Response(
        200, {"x-content-type-options": ["nosniff"]}, b"{}", request, elapsed=0.0, verify=True
    )
    with pytest.raises(AssertionError, match="without `Cache-Control`"):
        protective_headers(None, bare, _case("/fine"))  # type: ignore[arg-type]


def test_a_sound_operation_passes() -> None:
    response = call_and_validate(_case("/fine"), None, {})
    assert response.status_code == 200
