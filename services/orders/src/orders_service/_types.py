"""Column types the orders tables share."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import Dialect, String
from sqlalchemy.types import TypeDecorator

E = TypeVar("E", bound=StrEnum)


class StrEnumColumn(TypeDecorator[E]):
    """A StrEnum stored as VARCHAR (a CHECK constraint lists the values).

    A native PostgreSQL ENUM would need an ALTER TYPE migration for every new state; a string
    with a check constraint changes with one constraint swap. Loaded values are enum members,
    so code compares and serializes them as the enum they are.
    """

    impl = String
    cache_ok = True

    def __init__(self, enum: type[E], length: int = 20) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: Any, dialect: Dialect) -> E | None:
        return None if value is None else self.enum(value)

    @property
    def python_type(self) -> type[E]:
        return self.enum


def check_in(column: str, enum: type[StrEnum]) -> str:
    """SQL text of a CHECK that `column` holds one of the enum's values."""
    values = ", ".join(f"'{member.value}'" for member in enum)
    return f"{column} IN ({values})"
