"""auth's composition root: `uvicorn --factory auth_service.main:create_app`."""

from __future__ import annotations

from fastapi import FastAPI

from auth_service import __version__
from auth_service.settings import AuthSettings, get_settings
from servicekit.app import create_service_app


def create_app(settings: AuthSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return create_service_app(
        settings=settings,
        title="auth",
        version=__version__,
        migrations_section="auth",
        description="Issues RS256 access tokens and serves their keys as JWKS.",
    )
