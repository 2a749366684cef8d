"""Shapes of the discovery documents (for OpenAPI and for building the metadata once)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from auth_service.settings import AuthSettings

GRANT_TYPES = ("password", "refresh_token", "client_credentials")
RESPONSE_TYPES = ("none",)
CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")


class Jwk(BaseModel):
    kty: Literal["RSA"]
    kid: str
    use: Literal["sig"]
    alg: Literal["RS256"]
    n: str
    e: str


class JwkSet(BaseModel):
    keys: list[Jwk]


class ProviderMetadata(BaseModel):
    """RFC 8414 / OpenID Connect Discovery fields this server can honestly state."""

    issuer: str
    jwks_uri: str
    token_endpoint: str
    revocation_endpoint: str
    grant_types_supported: list[str]
    response_types_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
    revocation_endpoint_auth_methods_supported: list[str]
    access_token_signing_alg_values_supported: list[str]
    subject_types_supported: list[str]
    claims_supported: list[str]

    @classmethod
    def for_settings(cls, settings: AuthSettings) -> ProviderMetadata:
        base = settings.issuer
        return cls(
            issuer=base,
            jwks_uri=f"{base}/.well-known/jwks.json",
            token_endpoint=f"{base}/oauth/token",
            revocation_endpoint=f"{base}/oauth/revoke",
            grant_types_supported=list(GRANT_TYPES),
            # RFC 8414 2 makes this member REQUIRED and strict clients (authlib) refuse an empty
            # list. There is no authorization endpoint, so no response type yields a code or a
            # token: "none" (OAuth 2.0 Multiple Response Type Encoding Practices, in IANA's
            # response-type registry) is the one value that claims nothing. "code" or "token"
            # would announce flows this server does not have.
            response_types_supported=list(RESPONSE_TYPES),
            token_endpoint_auth_methods_supported=list(CLIENT_AUTH_METHODS),
            # Confidential clients authenticate to revoke (RFC 7009 2.1); public ones cannot.
            revocation_endpoint_auth_methods_supported=[*CLIENT_AUTH_METHODS, "none"],
            access_token_signing_alg_values_supported=["RS256"],
            subject_types_supported=["public"],
            claims_supported=[
                "iss",
                "sub",
                "aud",
                "exp",
                "iat",
                "nbf",
                "jti",
                "roles",
                "tenant_id",
                "client_id",
            ],
        )
