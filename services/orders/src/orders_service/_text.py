"""Text every field accepts: PostgreSQL text cannot hold NUL, so no field may carry one."""

from __future__ import annotations

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError


def _no_nul(value: str) -> str:
    # Caught here, a NUL is a 422 naming the field; let through, it is a database error (500).
    if "\x00" in value:
        raise PydanticCustomError("string_nul", "text must not contain NUL characters")
    return value


NoNul = AfterValidator(_no_nul)
