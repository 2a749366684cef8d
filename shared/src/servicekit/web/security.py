"""Who may call a route: permissions declared on routes, one `authorize`, and the docs they make.

A route declares what it needs with `requires(permission)` (or `PrincipalDep` for "any valid
token"); the same declaration answers 401/403 at run time, serves the fast path
(`servicekit.web.fastpath`) and, through `document_security`, gives the OpenAPI operation its
`security`, its 401 and 403 responses and the role it needs.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.types import Scope

from servicekit.core.problems import ProblemError, problem_type
from servicekit.verify.keys import JwksKeySource
from servicekit.verify.principal import ROLE_ORDER, Principal
from servicekit.verify.verifier import TokenVerifier
from servicekit.web.context import RequestContext, context_of

BEARER_SCHEME = "bearerAuth"


@functools.lru_cache(maxsize=256)
def _rank(roles: tuple[str, ...]) -> int:
    # Tokens carry a handful of role combinations: each is ranked once per process (this runs
    # on every request, the fast path's included).
    return max((ROLE_ORDER.index(r) for r in roles if r in ROLE_ORDER), default=-1)


def _role_denied(permission: Permission) -> ProblemError:
    return ProblemError(
        403,
        title="Forbidden",
        detail=f"Requires the {permission.minimum_role} role.",
        type_=problem_type("forbidden"),
    )


@dataclass(frozen=True, slots=True)
class Permission:
    """What a route needs: a name, the lowest role on the ladder that holds it, the 403 to
    answer when the caller's roles fall short, and an optional further check of the caller
    (raising its own problem, e.g. an identity the service cannot store)."""

    name: str
    minimum_role: str
    denied: Callable[[Permission], ProblemError] = _role_denied
    admit: Callable[[Principal], object] | None = None

    def __post_init__(self) -> None:
        if self.minimum_role not in ROLE_ORDER:
            raise ValueError(f"unknown role {self.minimum_role!r}")

    def check(self, principal: Principal) -> None:
        """Raise this permission's 403 unless `principal` holds it."""
        if _rank(principal.roles) < ROLE_ORDER.index(self.minimum_role):
            raise self.denied(self)
        if self.admit is not None:
            self.admit(principal)


async def authorize(ctx: RequestContext, permission: Permission | None) -> Principal:
    """The verified caller if it holds `permission` (None: any valid token); else 401/403."""
    principal = await ctx.principal()
    if permission is not None:
        permission.check(principal)
    return principal


async def authorized_or_none(ctx: RequestContext, permission: Permission) -> Principal | None:
    """The caller when allowed; None when the route itself should answer (401, 403)."""
    principal = await ctx.principal_or_none()
    if principal is None:
        return None
    try:
        permission.check(principal)
    except ProblemError:
        return None
    return principal


def requires(permission: Permission | None) -> Callable[[Request], Awaitable[Principal]]:
    """A route dependency declaring `permission` (None: any valid token); see module doc."""

    async def dependency(request: Request) -> Principal:
        return await authorize(context_of(request.scope), permission)

    dependency.__name__ = "require_" + (
        permission.name.replace(":", "_") if permission else "token"
    )
    dependency.declared_permission = permission  # type: ignore[attr-defined]
    dependency.declares_security = True  # type: ignore[attr-defined]
    return dependency


_authenticated = requires(None)
PrincipalDep = Annotated[Principal, Depends(_authenticated)]


async def start_verifier(verifier: TokenVerifier, stack: AsyncExitStack) -> TokenVerifier:
    """Warm a JWKS-backed verifier's keys and close its client with the lifespan."""
    source = verifier.key_source
    if isinstance(source, JwksKeySource):
        stack.push_async_callback(source.aclose)
        with contextlib.suppress(Exception):  # auth may start after us; retried lazily
            await source.warm()
    return verifier


async def principal_scope(scope: Scope) -> tuple[str, str] | None:
    """(tenant, subject) of the request's verified caller, for IdempotencyMiddleware; None
    when there is none (the route then answers its 401). Verifies through the context, so the
    route reuses the same verification."""
    principal = await context_of(scope).principal_or_none()
    return None if principal is None else (principal.tenant_id, principal.subject)


# -- OpenAPI: security derived from the declarations ---------------------------------------


def declarations(dependant: Dependant) -> Iterator[Permission | None]:
    for sub in dependant.dependencies:
        if getattr(sub.call, "declares_security", False):
            yield getattr(sub.call, "declared_permission", None)
        yield from declarations(sub)


def route_permissions(app: FastAPI) -> dict[tuple[str, str], list[Permission | None]]:
    """(path template, lowercase method) -> what each route declares (empty: public)."""
    found: dict[tuple[str, str], list[Permission | None]] = {}
    for context in iter_route_contexts(app.router.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or context.path_format is None:
            continue
        declared = list(declarations(route.dependant))
        if declared:
            for method in route.methods or ():
                found[(context.path_format, method.lower())] = declared
        for dep in route.dependencies:  # router- or decorator-level dependencies
            if getattr(dep.dependency, "declares_security", False):
                for method in route.methods or ():
                    found.setdefault((context.path_format, method.lower()), []).append(
                        getattr(dep.dependency, "declared_permission", None)
                    )
    return found


def document_security(schema: dict[str, Any], app: FastAPI) -> None:
    """An OpenAPI customiser: `security`, 401 and 403 and the needed role, per declaration."""
    for (path, method), declared in route_permissions(app).items():
        operation = schema.get("paths", {}).get(path, {}).get(method)
        if operation is None:
            continue
        operation["security"] = [{BEARER_SCHEME: []}]
        needed = [p for p in declared if p is not None]
        if needed:
            names = ", ".join(f"`{p.name}`" for p in needed)
            roles = ", ".join(sorted({p.minimum_role for p in needed}))
            note = f"Requires {names} (role `{roles}` or higher)."
            operation["x-required-permissions"] = [p.name for p in needed]
            operation["x-required-role"] = roles
            described = operation.get("description", "")
            if note not in described:
                operation["description"] = f"{described}\n\n{note}".strip()
            operation.setdefault("responses", {}).setdefault(
                "403", {"description": f"The token lacks {names}"}
            )
        operation.setdefault("responses", {}).setdefault(
            "401", {"description": "Missing, invalid or expired access token"}
        )
