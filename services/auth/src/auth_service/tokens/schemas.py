"""Token endpoint shapes: the form fields (documented; parsed by hand) and the answers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class TokenForm(BaseModel):
    """application/x-www-form-urlencoded fields of POST /oauth/token (RFC 6749)."""

    grant_type: Literal["password", "refresh_token", "client_credentials"]
    username: str | None = Field(default=None, description="password grant: the user's email")
    password: str | None = Field(default=None, description="password grant")
    refresh_token: str | None = Field(default=None, description="refresh_token grant")
    client_id: str | None = Field(
        default=None, description="client_secret_post (or use HTTP Basic: client_secret_basic)"
    )
    client_secret: str | None = Field(default=None, description="client_secret_post")
    scope: str | None = Field(default=None, description="accepted and ignored: roles decide")
    resource: str | None = Field(
        default=None,
        description=(
            "RFC 8707: the resource server the access token is for; the issuer's own URL asks "
            "for a token of auth's admin API, anything else but the default is invalid_target"
        ),
    )


class RevokeForm(BaseModel):
    """application/x-www-form-urlencoded fields of POST /oauth/revoke (RFC 7009)."""

    token: str
    client_id: str | None = Field(
        default=None, description="client_secret_post or a public client (or use HTTP Basic)"
    )
    client_secret: str | None = Field(default=None, description="client_secret_post")
    # RFC 7009 2.1: a hint the server does not know is ignored, not refused.
    token_type_hint: str | None = Field(
        default=None,
        description="refresh_token or access_token; any other value is ignored (RFC 7009 2.1)",
        examples=["refresh_token"],
    )


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the scheme name, not a secret
    expires_in: int
    refresh_token: str | None = None


class OAuthErrorBody(BaseModel):
    """RFC 6749 5.2 members inside an RFC 9457 problem."""

    type: str
    title: str
    status: int
    detail: str
    error: Literal[
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "invalid_target",
        "unauthorized_client",
        "unsupported_grant_type",
        "temporarily_unavailable",
    ]
    error_description: str
