"""Run a keyed write once, durably: its Idempotency-Key record commits with the write.

The middleware (servicekit.web.idempotency) answers a retry from Redis when it can. When Redis
has nothing (record lost, or the reply to a COMMIT was lost and the reservation released),
the retry reaches the route; `keyed_write` then finds the record written in the original
transaction and answers its response again, or 422 if the request differs. The claim is the
first statement of the transaction, so two racing requests with one key queue on the unique
index and the second sees the first's record.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from orders_service.context import Actor
from orders_service.errors import OrdersError
from orders_service.idempotency.repository import IdempotencyRecords, RecordScope
from servicekit.core.problems import problem_type
from servicekit.web.idempotency import keyed_request

# The headers a replay repeats (those the middleware stores too).
_KEPT = frozenset({b"content-type", b"location", b"etag"})
_REPLAYED = {"Idempotent-Replayed": "true", "X-Idempotent-Replayed": "true"}


class IdempotencyKeyReusedError(OrdersError):
    """The same problem the middleware answers for a fingerprint mismatch."""

    def __init__(self) -> None:
        super().__init__(
            422,
            title="Idempotency-Key reused",
            detail="This Idempotency-Key was used with another request (target or body).",
            type_=problem_type("idempotency-key-reused"),
        )


class IdempotencyKeyInProgressError(OrdersError):
    def __init__(self) -> None:
        super().__init__(
            409,
            title="Request in progress",
            detail="A request with this Idempotency-Key is still being processed.",
            type_=problem_type("idempotency-key-in-progress"),
            headers={"Retry-After": "1"},
        )


async def keyed_write(
    request: Request,
    session: AsyncSession,
    actor: Actor,
    write: Callable[[], Awaitable[Response]],
) -> Response:
    """`write()` once per (tenant, subject, route, key); a retry gets the first response."""
    keyed = keyed_request(request.scope)
    if keyed is None:
        return await write()
    scope = RecordScope(
        tenant_id=actor.tenant_id,
        subject=actor.subject,
        route=f"{keyed.method} {keyed.template}",
        key=keyed.key,
    )
    records = IdempotencyRecords(session)
    if not await records.claim(scope, keyed.fingerprint, datetime.now(UTC)):
        stored = await records.get(scope)
        if stored is None or stored.status is None:
            raise IdempotencyKeyInProgressError
        if stored.fingerprint != keyed.fingerprint:
            raise IdempotencyKeyReusedError
        headers = dict(stored.headers) | _REPLAYED
        return Response(content=stored.body, status_code=stored.status, headers=headers)
    response = await write()
    kept = [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, value in response.raw_headers
        if name.lower() in _KEPT
    ]
    await records.complete(
        scope, status=response.status_code, headers=kept, body=bytes(response.body)
    )
    return response
