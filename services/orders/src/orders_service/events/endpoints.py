"""/api/v1/events: the tenant's domain events in feed order (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import TypeAdapter
from starlette.responses import Response

from orders_service._http import json_response
from orders_service.events.schemas import EventListQuery, EventPage, EventRead
from orders_service.events.service import EventService
from orders_service.permissions import CanReadEvents, actor_of
from servicekit.data.db import SessionDep
from servicekit.web.paging import next_link

PREFIX = "/api/v1/events"
router = APIRouter(prefix=PREFIX, tags=["events"])

_PAGE: TypeAdapter[EventPage] = TypeAdapter(EventPage)


@router.get(
    "",
    response_model=None,
    responses={200: {"model": EventPage}},
    description="At-least-once, in the order transactions finished writing them, per tenant; "
    "see docs/events.md. Follow `next` to resume; an empty page means nothing new yet.",
)
async def list_events(
    request: Request,
    query: Annotated[EventListQuery, Query()],
    session: SessionDep,
    caller: CanReadEvents,
) -> Response:
    page = await EventService(session, actor_of(caller)).page(query)
    body = _PAGE.dump_json(
        EventPage(
            items=[
                EventRead(
                    id=row.id,
                    event_type=row.event_type,
                    aggregate_type=row.aggregate_type,
                    aggregate_id=row.aggregate_id,
                    occurred_at=row.occurred_at,
                    payload=row.payload,
                )
                for row in page.rows
            ],
            next=next_link(request, page.next_cursor),
        )
    )
    return json_response(body)
