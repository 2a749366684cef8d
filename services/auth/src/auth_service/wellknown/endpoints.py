"""`/.well-known/jwks.json` and the server metadata (RFC 8414 `oauth-authorization-server`,
and the same document as `openid-configuration`), all from prebuilt bytes; GET and HEAD."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response
from starlette.routing import Route

from auth_service.dependencies import get_auth_state
from auth_service.keys.keyring import JWKS_MEDIA_TYPE, KeyRing
from auth_service.settings import AuthSettings
from auth_service.wellknown.schemas import JwkSet, ProviderMetadata
from servicekit.core.jsonutil import dumps


def etag_matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 If-None-Match: weak comparison against a list of tags, or `*`."""
    if if_none_match.strip() == "*":
        return True
    opaque = etag.removeprefix("W/")
    return any(
        candidate.strip().removeprefix("W/") == opaque for candidate in if_none_match.split(",")
    )


def wellknown_router(settings: AuthSettings) -> APIRouter:
    router = APIRouter(prefix="/.well-known", tags=["discovery"])
    cache_control = f"public, max-age={settings.jwks_max_age_s}"
    metadata = ProviderMetadata.for_settings(settings)
    metadata_body = dumps(metadata.model_dump(mode="json"))

    @router.get(
        "/jwks.json",
        summary="Public keys that verify access tokens (RFC 7517 JWK Set)",
        response_class=Response,
        responses={
            200: {"content": {JWKS_MEDIA_TYPE: {"schema": JwkSet.model_json_schema()}}},
            304: {"description": "The cached copy named by If-None-Match is current"},
        },
    )
    async def jwks(request: Request) -> Response:
        # Read straight from app state: this route is the hot path of every verifier.
        keyring: KeyRing = get_auth_state(request).keyring
        body, etag = keyring.jwks()
        headers = {"Cache-Control": cache_control, "ETag": etag}
        if_none_match = request.headers.get("if-none-match")
        if if_none_match is not None and etag_matches(if_none_match, etag):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type=JWKS_MEDIA_TYPE, headers=headers)

    # Served by a plain Starlette route placed first, for GET and HEAD (RFC 9110 9.3.2: caches
    # and monitors ask for the validators without a body; the server drops a HEAD's body).
    # The handler takes no parameters, yet FastAPI's per-request dependency solving and
    # endpoint wrapping cost about a fifth of this route's CPU (profile, issue 12): every
    # verifier's refresh comes here. The APIRoute above documents the same answer.
    async def serve_jwks(request: Request) -> Response:
        # FastAPI's routes record themselves in the scope and a plain Route does not: record
        # it, so metrics label this route's template rather than "unmatched".
        request.scope["route"] = jwks_route
        return await jwks(request)

    jwks_route = Route(f"{router.prefix}/jwks.json", serve_jwks, methods=["GET", "HEAD"])
    router.routes.insert(0, jwks_route)

    async def server_metadata() -> Response:
        return Response(
            metadata_body,
            media_type="application/json",
            headers={"Cache-Control": cache_control},
        )

    for path, summary in (
        ("/oauth-authorization-server", "Authorization server metadata (RFC 8414)"),
        ("/openid-configuration", "The same metadata at the OpenID Connect Discovery path"),
    ):
        router.add_api_route(
            path, server_metadata, methods=["GET"], summary=summary, response_model=ProviderMetadata
        )
        router.add_api_route(path, server_metadata, methods=["HEAD"], include_in_schema=False)

    return router
