"""auth's composition root: `uvicorn --factory auth_service.main:create_app`."""

from __future__ import annotations

from fastapi import FastAPI

from auth_service import __version__
from auth_service.clients.endpoints import router as clients_router
from auth_service.lifespan import auth_state
from auth_service.settings import AuthSettings, get_settings
from auth_service.tokens.endpoints import router as tokens_router
from auth_service.users.endpoints import password_policy_docs
from auth_service.users.endpoints import router as users_router
from auth_service.wellknown.endpoints import wellknown_router
from servicekit.web.app import create_service_app


def create_app(settings: AuthSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return create_service_app(
        settings=settings,
        title="auth",
        version=__version__,
        migrations_section="auth",
        description="Issues RS256 access tokens and serves their keys as JWKS.",
        routers=[wellknown_router(settings), tokens_router, users_router, clients_router],
        state=auth_state(settings),
        openapi=[password_policy_docs(settings)],
    )
