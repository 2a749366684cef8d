"""The query of auth's admin lists: an offset page, and nothing else (unknown parameters are a
422, as everywhere in the API: a misspelt `limt` must not silently mean the default)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=1_000_000)
