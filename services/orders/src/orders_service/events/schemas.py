"""The event feed's query and page."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from servicekit.core.patterns import VISIBLE


class EventListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_type: Annotated[str, Field(min_length=1, max_length=64, pattern=VISIBLE)] | None = None
    aggregate_id: uuid.UUID | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    cursor: Annotated[str, Field(max_length=1024)] | None = None


class EventRead(BaseModel):
    id: uuid.UUID
    event_type: str
    aggregate_type: str
    aggregate_id: uuid.UUID
    occurred_at: datetime
    payload: dict[str, Any]


class EventPage(BaseModel):
    """Events in feed order. `next` resumes after the last event; poll it for newer ones
    (an empty page means nothing new yet). Null only on an empty first page."""

    items: list[EventRead]
    next: str | None
