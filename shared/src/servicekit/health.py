"""Probe endpoints. Liveness does no I/O: it answers while the event loop turns."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

_LIVE_BODY = b'{"status":"pass"}'
HEALTH_CONTENT_TYPE = "application/health+json"


class HealthResponse(Response):
    media_type = HEALTH_CONTENT_TYPE


# What the probes answer, documented under the media type they really send
# (draft-inadarei-api-health-check), so clients and the fuzzer can hold them to it.
HEALTH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["status"],
    "properties": {"status": {"type": "string", "enum": ["pass", "warn", "fail"]}},
}


def health_router() -> APIRouter:
    router = APIRouter(prefix="/health", tags=["health"])

    @router.get(
        "/live",
        summary="Liveness: the process and its event loop run",
        response_class=HealthResponse,
        responses={200: {"content": {HEALTH_CONTENT_TYPE: {"schema": HEALTH_SCHEMA}}}},
    )
    async def live() -> Response:
        return HealthResponse(_LIVE_BODY)

    return router
