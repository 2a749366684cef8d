"""Probe endpoints. Liveness does no I/O: it answers while the event loop turns."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

_LIVE_BODY = b'{"status":"pass"}'


def health_router() -> APIRouter:
    router = APIRouter(prefix="/health", tags=["health"])

    @router.get("/live", summary="Liveness: the process and its event loop run")
    async def live() -> Response:
        return Response(_LIVE_BODY, media_type="application/health+json")

    return router
