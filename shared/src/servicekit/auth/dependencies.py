"""FastAPI glue: a lifespan hook that builds the verifier, the `PrincipalDep` alias, and a
scope resolver that lets middleware (idempotency keys) verify the token for the route."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from starlette.types import Scope

from servicekit.app import LifespanHook, ServiceResources
from servicekit.auth.keys import JwksKeySource
from servicekit.auth.principal import Principal
from servicekit.auth.verifier import InvalidToken, TokenVerifier
from servicekit.problems import ProblemError, problem_type

VERIFIER_KEY = "verifier"
_CHALLENGE = 'Bearer error="invalid_token"'
# Where a middleware that verified this request's token leaves the principal, and the token it
# verified, so the route's PrincipalDep does not verify the same token again.
PRINCIPAL_STATE = "principal"
PRINCIPAL_TOKEN_STATE = "principal_token"  # noqa: S105 - a state key name, not a secret


def verifier_hook(build: Callable[[ServiceResources], TokenVerifier]) -> LifespanHook:
    """Build the verifier once per process, warm its JWKS, and close it on shutdown."""

    async def hook(_app: FastAPI, resources: ServiceResources, stack: AsyncExitStack) -> None:
        verifier = build(resources)
        resources.extras[VERIFIER_KEY] = verifier
        source = verifier.key_source
        if isinstance(source, JwksKeySource):
            stack.push_async_callback(source.aclose)
            with contextlib.suppress(Exception):  # auth may start after us; retried lazily
                await source.warm()

    return hook


def unauthorized(detail: str, *, challenge: str = _CHALLENGE) -> ProblemError:
    return ProblemError(
        401,
        title="Unauthorized",
        detail=detail,
        type_=problem_type("unauthorized"),
        headers={"WWW-Authenticate": challenge},
    )


def bearer_token(header: str) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value; None for anything else."""
    scheme, _, token = header.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


async def bearer_principal(request: Request) -> Principal:
    """The caller's verified principal, or a 401 problem with a Bearer challenge (RFC 6750).

    When a middleware already verified this very token in this request (see
    `principal_scope_resolver`), its principal is reused instead of verifying again.
    """
    header = request.headers.get("authorization")
    if header is None:
        raise unauthorized("Authentication required.", challenge="Bearer")
    token = bearer_token(header)
    if token is None:
        raise unauthorized("A bearer token is required.")
    state = request.scope.get("state")
    if state is not None and state.get(PRINCIPAL_TOKEN_STATE) == token:
        verified: Principal | None = state.get(PRINCIPAL_STATE)
        if verified is not None:
            return verified
    verifier: TokenVerifier = request.app.state.resources.extras[VERIFIER_KEY]
    try:
        principal = await verifier.verify(token)
    except InvalidToken as exc:
        raise unauthorized(f"The access token is invalid: {exc.reason}.") from None
    request.state.principal = principal
    return principal


def principal_scope_resolver(
    verifier_key: str = VERIFIER_KEY,
) -> Callable[[Scope], Awaitable[tuple[str, str] | None]]:
    """A scope resolver for `servicekit.idempotency.IdempotencyMiddleware`: (tenant, subject).

    It verifies the bearer token with the app's verifier (`resources.extras[verifier_key]`,
    built by `verifier_hook`) and leaves the principal and the token in the request state, so
    `bearer_principal` reuses it: one verification per request. A missing or invalid token
    resolves to None, and the route answers its 401 as usual.
    """

    async def resolve(scope: Scope) -> tuple[str, str] | None:
        header = next((v for k, v in scope["headers"] if k == b"authorization"), None)
        if header is None:
            return None
        token = bearer_token(header.decode("latin-1"))
        if token is None:
            return None
        verifier: TokenVerifier = scope["app"].state.resources.extras[verifier_key]
        try:
            principal = await verifier.verify(token)
        except InvalidToken:
            return None
        state = scope.setdefault("state", {})
        state[PRINCIPAL_STATE] = principal
        state[PRINCIPAL_TOKEN_STATE] = token
        return principal.tenant_id, principal.subject

    return resolve


PrincipalDep = Annotated[Principal, Depends(bearer_principal)]


def require_role(minimum: str) -> Callable[[Principal], Principal]:
    """A dependency that answers 403 unless the caller holds `minimum` or a higher role."""

    def check(principal: PrincipalDep) -> Principal:
        if not principal.has_role(minimum):
            raise ProblemError(
                403,
                title="Forbidden",
                detail=f"Requires the {minimum} role.",
                type_=problem_type("forbidden"),
            )
        return principal

    return check
