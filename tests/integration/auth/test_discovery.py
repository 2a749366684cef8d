"""GET /.well-known/jwks.json and /.well-known/openid-configuration."""

from __future__ import annotations

import jwt

from auth_service.keys.models import KeyPurpose
from tests.support.auth_app import ISSUER, AuthApp


async def test_jwks_publishes_access_keys_with_exactly_the_public_members(
    auth_app: AuthApp,
) -> None:
    response = await auth_app.client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/jwk-set+json"
    max_age = auth_app.settings.jwks_max_age_s
    assert response.headers["cache-control"] == f"public, max-age={max_age}"
    keys = response.json()["keys"]
    assert len(keys) >= 2  # the active key and the next one
    for key in keys:
        assert set(key) == {"kty", "kid", "use", "alg", "n", "e"}
        assert (key["kty"], key["use"], key["alg"]) == ("RSA", "sig", "RS256")
        assert key["e"] == "AQAB"
        assert len(jwt.PyJWK(key).key.public_numbers().n.to_bytes(256, "big")) == 256
    kids = {k["kid"] for k in keys}
    assert auth_app.keyring.signer(KeyPurpose.ACCESS).kid in kids
    assert auth_app.keyring.signer(KeyPurpose.REFRESH).kid not in kids


async def test_jwks_etag_answers_304_to_if_none_match(auth_app: AuthApp) -> None:
    first = await auth_app.client.get("/.well-known/jwks.json")
    etag = first.headers["etag"]
    assert etag.startswith('"')
    assert etag.endswith('"')
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = await auth_app.client.get(
            "/.well-known/jwks.json", headers={"If-None-Match": header}
        )
        assert again.status_code == 304, header
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert again.headers["cache-control"] == first.headers["cache-control"]
    stale = await auth_app.client.get(
        "/.well-known/jwks.json", headers={"If-None-Match": '"something-else"'}
    )
    assert stale.status_code == 200
    assert stale.content == first.content


async def test_openid_configuration_names_the_endpoints_grants_and_algorithms(
    auth_app: AuthApp,
) -> None:
    response = await auth_app.client.get("/.well-known/openid-configuration")
    assert response.status_code == 200
    meta = response.json()
    assert meta["issuer"] == ISSUER
    assert meta["jwks_uri"] == f"{ISSUER}/.well-known/jwks.json"
    assert meta["token_endpoint"] == f"{ISSUER}/oauth/token"
    assert meta["revocation_endpoint"] == f"{ISSUER}/oauth/revoke"
    assert set(meta["grant_types_supported"]) == {
        "password",
        "refresh_token",
        "client_credentials",
    }
    assert meta["access_token_signing_alg_values_supported"] == ["RS256"]


async def test_jwks_is_counted_under_its_route_template(auth_app: AuthApp) -> None:
    """The JWK Set is served by a plain Starlette route (no FastAPI dependency solving on the
    verifiers' hot path); metrics must still name it, not count it as unmatched."""
    await auth_app.client.get("/.well-known/jwks.json")
    await auth_app.client.head("/.well-known/jwks.json")
    metrics = (await auth_app.client.get("/metrics")).text
    for method in ("GET", "HEAD"):
        assert (
            f'http_requests_total{{method="{method}",route="/.well-known/jwks.json",status="200"}}'
            in metrics
        )
