"""Third-party JOSE verifiers accept auth's access tokens when they require every RFC 9068
claim (iss, exp, aud, sub, client_id, iat, jti): joserfc, and PyJWT's PyJWKClient fetching
the real JWKS. Tokens of all three grants, since each must name its client."""

from __future__ import annotations

import jwt as pyjwt
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet

from auth_service.clients.service import PUBLIC_CLIENT_ID
from tests.conformance.conftest import AuthServer

RFC9068_CLAIMS = ("iss", "exp", "aud", "sub", "client_id", "iat", "jti")
AUDIENCE = "orders"


def _tokens(server: AuthServer) -> dict[str, str]:
    """An access token from each grant."""
    with OAuth2Session(server.client_id, server.client_secret) as confidential:
        service = confidential.fetch_token(server.token_endpoint, grant_type="client_credentials")
    with OAuth2Session(PUBLIC_CLIENT_ID, token_endpoint_auth_method="none") as public:
        login = public.fetch_token(
            server.token_endpoint, username=server.username, password=server.password
        )
        refreshed = public.refresh_token(
            server.token_endpoint, refresh_token=login["refresh_token"]
        )
    return {
        "client_credentials": service["access_token"],
        "password": login["access_token"],
        "refresh_token": refreshed["access_token"],
    }


GRANTS = ["client_credentials", "password", "refresh_token"]


@pytest.mark.parametrize("grant", GRANTS)
def test_joserfc_requiring_the_rfc9068_claims(auth_server: AuthServer, grant: str) -> None:
    token = _tokens(auth_server)[grant]
    keys = KeySet.import_key_set(requests.get(auth_server.jwks_uri, timeout=10).json())
    decoded = jose_jwt.decode(token, keys, algorithms=["RS256"])
    assert decoded.header["typ"] == "at+jwt"  # RFC 9068 2.1
    registry = jose_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": auth_server.issuer},
        aud={"essential": True, "value": AUDIENCE},
        exp={"essential": True},
        iat={"essential": True},
        sub={"essential": True},
        jti={"essential": True},
        client_id={"essential": True},
    )
    registry.validate(decoded.claims)


@pytest.mark.parametrize("grant", GRANTS)
def test_pyjwt_pyjwkclient_requiring_the_rfc9068_claims(
    auth_server: AuthServer, grant: str
) -> None:
    token = _tokens(auth_server)[grant]
    signing_key = pyjwt.PyJWKClient(auth_server.jwks_uri).get_signing_key_from_jwt(token)
    claims = pyjwt.decode(
        token,
        signing_key.key,
        algorithms=["RS256"],
        audience=AUDIENCE,
        issuer=auth_server.issuer,
        options={"require": list(RFC9068_CLAIMS)},
    )
    assert claims["client_id"]


def test_jwks_answers_head_with_its_validators(auth_server: AuthServer) -> None:
    head = requests.head(auth_server.jwks_uri, timeout=10)
    get = requests.get(auth_server.jwks_uri, timeout=10)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["etag"] == get.headers["etag"]
    assert head.headers["content-type"] == get.headers["content-type"]
