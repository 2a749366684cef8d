"""Which GET paths a service's app actually serves (asked of its own router, no server)."""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.routing import Match

from auth_service.main import create_app as create_auth_app
from auth_service.settings import AuthSettings
from orders_service.main import create_app as create_orders_app
from orders_service.settings import OrdersSettings
from servicekit.core.settings import Environment


@functools.cache
def service_app(service: str) -> FastAPI:
    """The app as its container builds it (the lifespan, which opens pools, is not run)."""
    if service == "auth":
        return create_auth_app(AuthSettings(environment=Environment.TEST))
    if service == "orders":
        return create_orders_app(OrdersSettings(environment=Environment.TEST))
    raise ValueError(service)


def serves_get(service: str, path_or_url: str) -> bool:
    path = urlsplit(path_or_url).path or "/"
    scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "path_params": {}}
    return any(
        route.matches(scope)[0] is Match.FULL for route in service_app(service).router.routes
    )
