"""Specifications: one predicate, two forms (evaluate an object, compile to SQL) that must agree.

A leaf implements `is_satisfied_by` (Python) and `to_sql` (a SQLAlchemy boolean expression over
the mapped class). Composites (`&`, `|`, `~`) combine both forms the same way, so a composed
specification agrees in memory and in the database whenever its leaves do.

SQL has a third truth value. A row is selected only where the expression is TRUE, so a leaf that
yields NULL behaves as False under AND and OR; negation is compiled as `IS NOT TRUE` (not `NOT`),
which keeps that reading: `~A` selects exactly the rows `A` does not, NULLs included.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, and_, false, or_, true

T = TypeVar("T")


class Specification(ABC, Generic[T]):
    """A named business rule about `T` that can filter objects and queries alike."""

    @abstractmethod
    def is_satisfied_by(self, candidate: T) -> bool:
        """Whether `candidate` satisfies the rule."""

    @abstractmethod
    def to_sql(self) -> ColumnElement[bool]:
        """The rule as a where-clause over the mapped class of `T`: a function of the
        specification's fields alone (its equality), never of the clock or other state,
        because list statements are built once per equal specification and kept
        (servicekit.data.repository)."""

    def __and__(self, other: Specification[T]) -> Specification[T]:
        return AndSpecification((self, other))

    def __or__(self, other: Specification[T]) -> Specification[T]:
        return OrSpecification((self, other))

    def __invert__(self) -> Specification[T]:
        return NotSpecification(self)

    def __eq__(self, other: object) -> bool:
        # Structural equality makes composed specifications comparable in tests and logs.
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash((type(self), tuple(sorted((k, repr(v)) for k, v in vars(self).items()))))

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


class TrueSpecification(Specification[Any]):
    """Satisfied by everything: the neutral element of `&` (a list with no filter)."""

    def is_satisfied_by(self, candidate: Any) -> bool:
        return True

    def to_sql(self) -> ColumnElement[bool]:
        return true()


class FalseSpecification(Specification[Any]):
    """Satisfied by nothing: the neutral element of `|`."""

    def is_satisfied_by(self, candidate: Any) -> bool:
        return False

    def to_sql(self) -> ColumnElement[bool]:
        return false()


class AndSpecification(Specification[T]):
    def __init__(self, parts: Iterable[Specification[T]]) -> None:
        self.parts = tuple(parts)

    def is_satisfied_by(self, candidate: T) -> bool:
        return all(part.is_satisfied_by(candidate) for part in self.parts)

    def to_sql(self) -> ColumnElement[bool]:
        return and_(true(), *(part.to_sql() for part in self.parts))


class OrSpecification(Specification[T]):
    def __init__(self, parts: Iterable[Specification[T]]) -> None:
        self.parts = tuple(parts)

    def is_satisfied_by(self, candidate: T) -> bool:
        return any(part.is_satisfied_by(candidate) for part in self.parts)

    def to_sql(self) -> ColumnElement[bool]:
        return or_(false(), *(part.to_sql() for part in self.parts))


class NotSpecification(Specification[T]):
    def __init__(self, inner: Specification[T]) -> None:
        self.inner = inner

    def is_satisfied_by(self, candidate: T) -> bool:
        return not self.inner.is_satisfied_by(candidate)

    def to_sql(self) -> ColumnElement[bool]:
        # IS NOT TRUE, not NOT: a NULL from the inner rule means "not satisfied", as in Python.
        return self.inner.to_sql().is_not(true())


def and_spec(*specs: Specification[T]) -> Specification[T]:
    """All of `specs` (everything when there are none)."""
    if not specs:
        return TrueSpecification()
    return specs[0] if len(specs) == 1 else AndSpecification(specs)


def or_spec(*specs: Specification[T]) -> Specification[T]:
    """Any of `specs` (nothing when there are none)."""
    if not specs:
        return FalseSpecification()
    return specs[0] if len(specs) == 1 else OrSpecification(specs)


def not_spec(spec: Specification[T]) -> Specification[T]:
    """Everything `spec` rejects."""
    return NotSpecification(spec)


__all__ = [
    "AndSpecification",
    "FalseSpecification",
    "NotSpecification",
    "OrSpecification",
    "Specification",
    "TrueSpecification",
    "and_spec",
    "not_spec",
    "or_spec",
]
