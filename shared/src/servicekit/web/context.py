"""The request context: what every later step needs from a request, worked out once.

`RequestLimitsMiddleware` builds it (body read once under the one configured cap, the media
type parsed under one rule for duplicate `Content-Type` headers); the principal is verified on
first use and remembered. Idempotency, the fast path and the route dependencies all read it,
so a body is buffered once and a token verified once per request. The why:
docs/adr/0003-request-pipeline.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.types import Scope

from servicekit.core.problems import ProblemError, problem_type
from servicekit.core.state import ServiceState, service_state
from servicekit.verify.principal import Principal
from servicekit.verify.verifier import InvalidToken, TokenVerifier

CONTEXT_SCOPE_KEY = "servicekit.web.context"
_CHALLENGE = 'Bearer error="invalid_token"'


def unauthorized(detail: str, *, challenge: str = _CHALLENGE) -> ProblemError:
    """A 401 problem with the RFC 6750 challenge."""
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


class ConflictingContentTypeError(ValueError):
    """The request carries Content-Type more than once, with different media types."""


def media_type_of(values: list[bytes]) -> str | None:
    """The one media type of a request's Content-Type headers (lowercase, no parameters).

    The rule for duplicates: repeats that agree are one header; repeats that disagree are
    refused, because two parsers reading the first and the last would see different bodies.
    """
    if not values:
        return None
    media = {v.split(b";", 1)[0].strip().lower() for v in values}
    if len(media) > 1:
        raise ConflictingContentTypeError
    return media.pop().decode("latin-1")


def is_json_media(media_type: str | None) -> bool:
    return media_type == "application/json" or (
        media_type is not None
        and media_type.startswith("application/")
        and media_type.endswith("+json")
    )


@dataclass(slots=True)
class RequestContext:
    """One request's body, media type and (verified on first use) principal."""

    # The app and the header list, not the scope: the scope holds the context, and a cycle
    # between them would leave every request's objects to the cyclic garbage collector.
    app: Any
    headers: list[tuple[bytes, bytes]]
    # None: no step has read the body (an app not built by create_service_app).
    body: bytes | None = None
    media_type: str | None = None
    _principal: Principal | ProblemError | None = field(default=None, repr=False)

    @property
    def is_json(self) -> bool:
        return is_json_media(self.media_type)

    def header(self, name: bytes) -> bytes | None:
        """The first value of header `name` (lowercase bytes), as Request.headers.get does."""
        for key, value in self.headers:
            if key == name:
                return value
        return None

    async def principal(self) -> Principal:
        """The caller, verified once per request; else the 401 problem (always the same one)."""
        outcome = self._principal
        if outcome is None:
            outcome = self._principal = await self._verify()
        if isinstance(outcome, ProblemError):
            raise outcome
        return outcome

    async def principal_or_none(self) -> Principal | None:
        try:
            return await self.principal()
        except ProblemError:
            return None

    async def _verify(self) -> Principal | ProblemError:
        header = self.header(b"authorization")
        if header is None:
            return unauthorized("Authentication required.", challenge="Bearer")
        token = bearer_token(header.decode("latin-1"))
        if token is None:
            return unauthorized("A bearer token is required.")
        try:
            return await verifier_of(self.app).verify(token)
        except InvalidToken as exc:
            return unauthorized(f"The access token is invalid: {exc.reason}.")


def verifier_of(app: Any) -> TokenVerifier:
    """The app's token verifier (built by its lifespan into the service state)."""
    verifier = service_state(app, ServiceState).verifier
    if verifier is None:
        raise RuntimeError("this service's state has no token verifier")
    return verifier


def context_of(scope: Scope) -> RequestContext:
    """This request's context; made on the spot (body unread) when no middleware built one."""
    ctx: RequestContext | None = scope.get(CONTEXT_SCOPE_KEY)
    if ctx is None:
        ctx = scope[CONTEXT_SCOPE_KEY] = RequestContext(scope["app"], scope["headers"])
    return ctx
