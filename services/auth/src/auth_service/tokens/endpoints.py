"""POST /oauth/token and POST /oauth/revoke: form-encoded in, JSON out, RFC 6749 errors."""

from __future__ import annotations

import base64
import binascii
import time
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from fastapi import APIRouter, Request
from pydantic_core import to_json
from starlette.responses import Response

from auth_service.clients.schemas import ClientCredentials
from auth_service.clients.service import PUBLIC_CLIENT_ID
from auth_service.dependencies import get_auth_state, token_service
from auth_service.keys.keyring import NoSigningKeyError
from auth_service.lifespan import TokenLimits
from auth_service.tokens.schemas import OAuthErrorBody, RevokeForm, TokenForm, TokenResponse
from auth_service.tokens.service import OAuthError, TokenGrant, TokenService, invalid_client
from servicekit.core.problems import problem_response, problem_type
from servicekit.data.db import SessionDep, get_session
from servicekit.web.context import context_of
from servicekit.web.fastpath import Answer, fast_answer
from servicekit.web.limits import body_cap
from servicekit.web.ratelimit import client_ip

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
MAX_FORM_FIELDS = 16
# RFC 6749 5.1: token responses (and errors) must not be cached.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

router = APIRouter(tags=["oauth"])
# The request dependency as a context manager: entered only by the grants that need it.
request_session = asynccontextmanager(get_session)


def _form_body(model: type[Any]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {FORM_MEDIA_TYPE: {"schema": model.model_json_schema()}},
        }
    }


_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {
        "description": text,
        "content": {"application/json": {"schema": OAuthErrorBody.model_json_schema()}},
    }
    for status, text in (
        (400, "invalid_request, invalid_grant, invalid_target, unsupported_grant_type"),
        (401, "invalid_client"),
        (503, "no signing key available"),
    )
}
_RATE_LIMITED: dict[int | str, dict[str, Any]] = {
    429: {
        "description": "Too many token requests from this address or for this identity",
        "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}},
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }
}


def oauth_error_response(exc: OAuthError, *, instance: str) -> Response:
    """RFC 6749 5.2: `application/json` with `error` and `error_description`; the RFC 9457
    members stay beside them for clients that read problems."""
    headers = dict(NO_STORE)
    if exc.basic_challenge:
        headers["WWW-Authenticate"] = 'Basic realm="auth", charset="UTF-8"'
    response = problem_response(
        exc.status,
        title=exc.error.replace("_", " ").capitalize(),
        detail=exc.description,
        type_=problem_type(f"oauth-{exc.error.replace('_', '-')}"),
        instance=instance,
        headers=headers,
        extra={"error": exc.error, "error_description": exc.description},
    )
    response.headers["content-type"] = "application/json"
    return response


async def read_form(request: Request) -> dict[str, str]:
    """Parse a form body strictly: its media type, UTF-8, each field at most once (RFC 6749
    3.2), and empty values treated as omitted (RFC 6749 3.1). The body and its media type come
    from the request context: read once, under the routes' `oauth_form_max_bytes` cap (413)."""
    ctx = context_of(request.scope)
    if ctx.media_type != FORM_MEDIA_TYPE:
        raise OAuthError("invalid_request", f"the body must be {FORM_MEDIA_TYPE}")
    body = ctx.body if ctx.body is not None else await request.body()
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(
            text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS, errors="strict"
        )
    except (UnicodeDecodeError, ValueError):
        raise OAuthError("invalid_request", "the body is not a valid form") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise OAuthError("invalid_request", f"parameter {name[:40]!r} is repeated")
        # No OAuth parameter holds a NUL, and PostgreSQL text cannot: refuse it here, once.
        if "\x00" in name or "\x00" in value:
            raise OAuthError("invalid_request", "parameters must not contain NUL characters")
        form[name] = value
    return {name: value for name, value in form.items() if value}


def client_credentials(request: Request, form: dict[str, str]) -> tuple[str, str] | None:
    """client_secret_basic or client_secret_post (never both), or None if neither."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            raise invalid_client()
        if "client_secret" in form:
            raise OAuthError("invalid_request", "use one client authentication method, not two")
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise invalid_client() from None
        raw_id, sep, raw_secret = decoded.partition(":")
        # RFC 6749 2.3.1: both parts are form-urlencoded before Basic encoding.
        client_id, secret = unquote_plus(raw_id), unquote_plus(raw_secret)
        if not sep or not client_id or not secret:
            raise invalid_client()
        if form.get("client_id", client_id) != client_id:
            raise OAuthError("invalid_request", "client_id differs from the authenticated client")
        return client_id, secret
    if "client_secret" in form:
        if "client_id" not in form:
            raise OAuthError("invalid_request", "client_secret without client_id")
        return form["client_id"], form["client_secret"]
    return None


def _require(form: dict[str, str], name: str) -> str:
    value = form.get(name)
    if value is None:
        raise OAuthError("invalid_request", f"{name} is required")
    return value


def _token_body(grant: TokenGrant) -> bytes:
    body: dict[str, object] = {
        "access_token": grant.access_token,
        "token_type": "Bearer",
        "expires_in": grant.expires_in,
    }
    if grant.refresh_token is not None:
        body["refresh_token"] = grant.refresh_token
    return to_json(body)  # str and int only: compact, as servicekit's dumps, and faster


async def identify_client(
    request: Request, form: dict[str, str], tokens: TokenService, *, default_public: bool
) -> ClientCredentials:
    """The client making this request: a confidential client that authenticated, or a public
    client that named itself with `client_id` (RFC 6749 2.1, no secret), or, when
    `default_public`, the registered public client of password logins. invalid_client else."""
    given = client_credentials(request, form)
    if given is not None:
        found = await tokens.clients.authenticate(given[0], given[1])
    elif "client_id" in form or default_public:
        found = await tokens.clients.identify_public(form.get("client_id", PUBLIC_CLIENT_ID))
    else:
        found = None
    if found is None:
        raise invalid_client()
    return found


async def _user_grant(
    request: Request, form: dict[str, str], grant_type: str, audience: str, tokens: TokenService
) -> TokenGrant | OAuthError:
    """password and refresh_token grants.

    The password is checked first with no connection held (argon2 waits for a slot; a burst
    of logins must not starve the pool). Then the request's session is opened with the request
    dependency's own function, so it commits exactly as SessionDep does. Failures come back as
    values, not exceptions, so what they wrote (a failed login counted, a reused token's family
    revoked) is committed too.
    """
    state = get_auth_state(request)
    now = int(time.time())
    try:
        client = await identify_client(request, form, tokens, default_public=True)
        check = None
        if grant_type == "password":
            check = await tokens.logins.check_password(
                state.resources.sessionmaker,
                username=_require(form, "username"),
                password=_require(form, "password"),
                now=datetime.fromtimestamp(now, UTC),
            )
        async with request_session(request) as session:
            try:
                if check is not None:
                    return await tokens.password(
                        session,
                        check=check,
                        client_id=client.client_id,
                        audience=audience,
                        now=now,
                    )
                return await tokens.refresh(
                    session,
                    refresh_token=_require(form, "refresh_token"),
                    client_id=client.client_id,
                    audience=audience,
                    now=now,
                )
            except OAuthError as exc:
                return exc
    except OAuthError as exc:
        return exc


def _identities(grant_type: str, form: dict[str, str], request: Request) -> tuple[str, ...]:
    """The failure budgets a request answers to: its client, and the account a password
    grant logs into, keyed on the normalised username (case variants share one budget)."""
    keys: list[str] = []
    header = request.headers.get("authorization")
    if "client_id" in form:
        keys.append(f"client:{form['client_id']}")
    elif header is not None:
        try:
            credentials = client_credentials(request, form)
        except OAuthError:
            credentials = None
        if credentials is not None:
            keys.append(f"client:{credentials[0]}")
    if grant_type == "password" and "username" in form:
        keys.append(f"user:{form['username'].strip().casefold()}")
    return tuple(keys)


async def serve_token(request: Request) -> Answer:
    """POST /oauth/token: the route and the fast path (servicekit.web.fastpath) both call this.
    The hot path of every client; FastAPI's routing and endpoint wrapping were a fifth of its
    cost beside the RSA signature (profile, issue 12)."""
    state = get_auth_state(request)
    limits: TokenLimits = state.token_limits
    tokens = token_service(state)
    # Per address first, before the body is even read: the cheapest refusal (429).
    await limits.per_ip.enforce(f"ip:{client_ip(request)}")
    identities: tuple[str, ...] = ()
    try:
        form = await read_form(request)
        grant_type = _require(form, "grant_type")
        # Then per identity, and only failures spend that budget (tokens._failures). An
        # account out of budget is refused before its argon2 check (a slow hash is what a
        # password guesser wants us to spend); a client is checked after its (cheap) secret,
        # so wrong secrets sent by others never keep the real client from its tokens.
        identities = _identities(grant_type, form, request)
        limits.per_identity.check(*[key for key in identities if key.startswith("user:")])
        audience = tokens.audience_for(form.get("resource"))
        if grant_type == "client_credentials":
            client = client_credentials(request, form)
            if client is None:
                raise invalid_client()
            # The hot path: one SHA-256 and one RSA signature (the client's row comes from
            # clients._cache, or one prepared statement).
            result: TokenGrant | OAuthError = await tokens.client_credentials(
                client_id=client[0],
                client_secret=client[1],
                audience=audience,
                now=int(time.time()),
            )
        elif grant_type in ("password", "refresh_token"):
            result = await _user_grant(request, form, grant_type, audience, tokens)
        else:
            raise OAuthError("unsupported_grant_type", "grant_type is not supported here")
    except OAuthError as exc:
        result = exc
    except NoSigningKeyError:
        result = OAuthError("temporarily_unavailable", "no signing key is available", status=503)
    if isinstance(result, OAuthError):
        _charge_failure(limits, result, identities)
        return Answer.of(oauth_error_response(result, instance=request.url.path))
    return Answer(200, _token_body(result), _TOKEN_HEADERS)


_TOKEN_HEADERS = [
    (b"content-type", b"application/json"),
    *((name.lower().encode(), value.encode()) for name, value in NO_STORE.items()),
]


@router.post(
    "/oauth/token",
    summary="Issue tokens: password, refresh_token and client_credentials grants",
    response_model=TokenResponse,
    responses={**_ERRORS, **_RATE_LIMITED},
    openapi_extra=_form_body(TokenForm),
)
@fast_answer(serve_token)
@body_cap("oauth_form_max_bytes")
async def token(request: Request) -> Response:
    return (await serve_token(request)).response()


def _charge_failure(limits: TokenLimits, error: OAuthError, identities: tuple[str, ...]) -> None:
    """Spend the budget of the identity a failure is about: a wrong client secret spends
    that client's (429 once it is spent), a wrong password the account's. A bad refresh token
    spends neither (it names no identity anyone could lock out; the address budget covers
    floods), nor does a wrong password spend the budget of the client it came through (the
    shared public client would lock out every login)."""
    prefix = {"invalid_client": "client:", "invalid_grant": "user:"}.get(error.error)
    if prefix is None:
        return
    charged = [key for key in identities if key.startswith(prefix)]
    if prefix == "client:":
        limits.per_identity.check(*charged)
    for key in charged:
        limits.per_identity.charge(key)


@router.post(
    "/oauth/revoke",
    summary="Revoke a refresh token and its grant (RFC 7009); 200 for unknown tokens too",
    # The answer has no body: Response (not FastAPI's JSON default) documents none.
    response_class=Response,
    responses={
        200: {"description": "Revoked, or nothing to revoke"},
        400: _ERRORS[400],
        401: _ERRORS[401],
    },
    openapi_extra=_form_body(RevokeForm),
)
@body_cap("oauth_form_max_bytes")
async def revoke(request: Request, session: SessionDep) -> Response:
    """RFC 7009 2.1: a confidential client authenticates (wrong credentials are 401
    invalid_client); a public client names itself with `client_id`, or is the registered
    public client of password logins when it sends neither. A client revokes only its own
    tokens."""
    tokens = token_service(get_auth_state(request))
    try:
        form = await read_form(request)
        token_value = _require(form, "token")
        client = await identify_client(request, form, tokens, default_public=True)
        await tokens.revoke(
            session, token=token_value, client_id=client.client_id, now=int(time.time())
        )
    except OAuthError as exc:
        return oauth_error_response(exc, instance=request.url.path)
    return Response(status_code=200, headers=NO_STORE)
