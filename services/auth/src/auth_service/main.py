"""auth's composition root: `uvicorn --factory auth_service.main:create_app`."""

from __future__ import annotations

from fastapi import FastAPI

from auth_service import __version__
from auth_service.clients.endpoints import router as clients_router
from auth_service.lifespan import (
    credentials_pool_hook,
    keys_hook,
    passwords_hook,
    token_limits_hook,
)
from auth_service.settings import AuthSettings, get_settings
from auth_service.tokens._signing import MAX_TOKEN_BYTES
from auth_service.tokens.endpoints import router as tokens_router
from auth_service.users.endpoints import document_password_policy
from auth_service.users.endpoints import router as users_router
from auth_service.wellknown.endpoints import wellknown_router
from servicekit.app import ServiceResources, create_service_app
from servicekit.auth import TokenVerifier, verifier_hook


def create_app(settings: AuthSettings | None = None) -> FastAPI:
    settings = settings or get_settings()

    def build_verifier(resources: ServiceResources) -> TokenVerifier:
        # auth verifies its own tokens against its in-memory key ring: no HTTP call to itself.
        # Its admin API is a resource server of its own, named by the issuer (RFC 8707
        # `resource=<issuer>` at the token endpoint): a token for orders is not an admin
        # credential here.
        return TokenVerifier(
            key_source=resources.extras["keyring"],
            issuer=settings.issuer,
            audience=settings.issuer,
            leeway_s=settings.token_leeway_s,
            max_token_bytes=MAX_TOKEN_BYTES,
        )

    app = create_service_app(
        settings=settings,
        title="auth",
        version=__version__,
        migrations_section="auth",
        description="Issues RS256 access tokens and serves their keys as JWKS.",
        routers=[wellknown_router(settings), tokens_router, users_router, clients_router],
        hooks=[
            passwords_hook(settings),
            credentials_pool_hook(settings),
            keys_hook(settings),
            verifier_hook(build_verifier),
            token_limits_hook(settings),
        ],
    )
    document_password_policy(app, settings)
    return app
