"""Who is acting: the part of a verified token the use cases need."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Actor:
    """The tenant every query is scoped to and the subject written into audit fields."""

    tenant_id: str
    subject: str
