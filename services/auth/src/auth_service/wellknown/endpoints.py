"""`/.well-known/jwks.json` and the server metadata (RFC 8414 `oauth-authorization-server`,
and the same document as `openid-configuration`), all from prebuilt bytes; GET and HEAD."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from auth_service.keys.keyring import JWKS_MEDIA_TYPE, KeyRing
from auth_service.lifespan import AuthState
from auth_service.settings import AuthSettings
from auth_service.wellknown.schemas import JwkSet, ProviderMetadata
from servicekit.core.jsonutil import dumps
from servicekit.core.state import service_state
from servicekit.web.context import context_of
from servicekit.web.fastpath import Answer, fast_answer


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
    cache_control = f"public, max-age={settings.jwks_max_age_s}".encode()
    metadata = ProviderMetadata.for_settings(settings)
    metadata_body = dumps(metadata.model_dump(mode="json"))

    async def serve_jwks(request: Request) -> Answer:
        """The key set from prebuilt bytes; 304 when If-None-Match names its ETag. The route
        and the fast path (servicekit.web.fastpath) both call this: every verifier's refresh
        comes here, and FastAPI's routing and endpoint wrapping cost about as much as the
        answer itself (profile, issue 12)."""
        keyring: KeyRing = service_state(request.app, AuthState).keyring
        body, etag = keyring.jwks()
        headers = [(b"cache-control", cache_control), (b"etag", etag.encode("latin-1"))]
        if_none_match = context_of(request.scope).header(b"if-none-match")
        if if_none_match is not None and etag_matches(if_none_match.decode("latin-1"), etag):
            return Answer(304, headers=headers)
        return Answer(200, body, [(b"content-type", JWKS_MEDIA_TYPE.encode()), *headers])

    @router.get(
        "/jwks.json",
        summary="Public keys that verify access tokens (RFC 7517 JWK Set)",
        response_class=Response,
        responses={
            200: {"content": {JWKS_MEDIA_TYPE: {"schema": JwkSet.model_json_schema()}}},
            304: {"description": "The cached copy named by If-None-Match is current"},
        },
    )
    @fast_answer(serve_jwks)
    async def jwks(request: Request) -> Response:
        return (await serve_jwks(request)).response()

    # HEAD too (RFC 9110 9.3.2: caches and monitors ask for the validators without a body;
    # the server drops a HEAD's body).
    async def jwks_head(request: Request) -> Response:
        return await jwks(request)

    router.add_api_route("/jwks.json", jwks_head, methods=["HEAD"], include_in_schema=False)

    async def server_metadata() -> Response:
        return Response(
            metadata_body,
            media_type="application/json",
            headers={"Cache-Control": cache_control.decode()},
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
