"""The same-run baseline: a bare Starlette app returning pre-built JSON bytes."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_BODY = b'{"status":"pass"}'


async def _fixed(_: Request) -> Response:
    return Response(_BODY, media_type="application/json")


def create_app() -> Starlette:
    return Starlette(routes=[Route("/health/live", _fixed), Route("/", _fixed)])
