"""FastAPI glue: a lifespan hook that builds the verifier, and the `PrincipalDep` alias."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Annotated

from fastapi import Depends, FastAPI, Request

from servicekit.app import LifespanHook, ServiceResources
from servicekit.auth.keys import JwksKeySource
from servicekit.auth.principal import Principal
from servicekit.auth.verifier import InvalidToken, TokenVerifier
from servicekit.problems import ProblemError, problem_type

VERIFIER_KEY = "verifier"
_CHALLENGE = 'Bearer error="invalid_token"'


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


async def bearer_principal(request: Request) -> Principal:
    """The caller's verified principal, or a 401 problem with a Bearer challenge (RFC 6750)."""
    header = request.headers.get("authorization")
    if header is None:
        raise unauthorized("Authentication required.", challenge="Bearer")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise unauthorized("A bearer token is required.")
    verifier: TokenVerifier = request.app.state.resources.extras[VERIFIER_KEY]
    try:
        principal = await verifier.verify(token)
    except InvalidToken as exc:
        raise unauthorized(f"The access token is invalid: {exc.reason}.") from None
    request.state.principal = principal
    return principal


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
