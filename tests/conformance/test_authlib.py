"""authlib, a strict third-party OAuth 2.0 client, against the real auth process: metadata
discovery (RFC 8414), the three grants, refresh rotation bound to the client, revocation
(RFC 7009) and the error format (RFC 6749 5.2)."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata

from auth_service.clients.service import PUBLIC_CLIENT_ID
from tests.conformance.conftest import AuthServer


def _confidential(server: AuthServer, method: str = "client_secret_basic") -> OAuth2Session:
    return OAuth2Session(
        server.client_id,
        server.client_secret,
        token_endpoint_auth_method=method,
        revocation_endpoint_auth_method=method,
    )


def _public() -> OAuth2Session:
    return OAuth2Session(
        PUBLIC_CLIENT_ID, token_endpoint_auth_method="none", revocation_endpoint_auth_method="none"
    )


def test_metadata_discovery_validates_under_rfc8414(auth_server: AuthServer) -> None:
    document = requests.get(
        auth_server.base_url + "/.well-known/oauth-authorization-server", timeout=10
    ).json()
    metadata = AuthorizationServerMetadata(document)
    metadata.validate()  # raises on any RFC 8414 violation, e.g. an empty response type list
    assert metadata["issuer"] == auth_server.issuer
    assert metadata["token_endpoint"] == auth_server.token_endpoint
    assert metadata["revocation_endpoint"] == auth_server.revocation_endpoint
    assert metadata["jwks_uri"] == auth_server.jwks_uri


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_client_credentials(auth_server: AuthServer, method: str) -> None:
    with _confidential(auth_server, method) as client:
        token = client.fetch_token(auth_server.token_endpoint, grant_type="client_credentials")
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] > 0
    assert "refresh_token" not in token


def test_password_refresh_and_revoke_as_a_public_client(auth_server: AuthServer) -> None:
    with _public() as client:
        first = client.fetch_token(
            auth_server.token_endpoint,
            username=auth_server.username,
            password=auth_server.password,
        )
        second = client.refresh_token(
            auth_server.token_endpoint, refresh_token=first["refresh_token"]
        )
        assert second["refresh_token"] != first["refresh_token"]
        revoked = client.revoke_token(
            auth_server.revocation_endpoint,
            token=second["refresh_token"],
            token_type_hint="refresh_token",
        )
        assert revoked.status_code == 200
        with pytest.raises(OAuthError) as info:
            client.refresh_token(auth_server.token_endpoint, refresh_token=second["refresh_token"])
    assert info.value.error == "invalid_grant"


def test_a_confidential_clients_refresh_token_is_useless_to_another_client(
    auth_server: AuthServer,
) -> None:
    with _confidential(auth_server) as client:
        tokens: dict[str, Any] = client.fetch_token(
            auth_server.token_endpoint,
            username=auth_server.username,
            password=auth_server.password,
        )
    with _public() as other, pytest.raises(OAuthError) as info:
        other.refresh_token(auth_server.token_endpoint, refresh_token=tokens["refresh_token"])
    assert info.value.error == "invalid_grant"
    with _confidential(auth_server) as client:
        assert client.refresh_token(
            auth_server.token_endpoint, refresh_token=tokens["refresh_token"]
        )["access_token"]


def test_wrong_client_credentials_are_an_oauth_error_authlib_understands(
    auth_server: AuthServer,
) -> None:
    session = OAuth2Session(auth_server.client_id, "wrong-secret")
    with session, pytest.raises(OAuthError) as info:
        session.fetch_token(auth_server.token_endpoint, grant_type="client_credentials")
    assert info.value.error == "invalid_client"
    assert info.value.description


def test_revocation_refuses_wrong_client_credentials(auth_server: AuthServer) -> None:
    with _confidential(auth_server) as client:
        tokens = client.fetch_token(
            auth_server.token_endpoint,
            username=auth_server.username,
            password=auth_server.password,
        )
    with OAuth2Session(auth_server.client_id, "wrong-secret") as intruder:
        response = intruder.revoke_token(
            auth_server.revocation_endpoint, token=tokens["refresh_token"]
        )
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic")
