"""Cursor tokens and the specification combinators, without a database."""

from __future__ import annotations

import base64
import json
import uuid
from decimal import Decimal

import pytest

from servicekit.data.repository import InvalidCursorError, SortKey, decode_cursor, encode_cursor
from servicekit.data.specification import (
    AndSpecification,
    FalseSpecification,
    Specification,
    TrueSpecification,
    and_spec,
    not_spec,
    or_spec,
)


def test_a_cursor_round_trips_for_its_sort_only() -> None:
    row_id = uuid.uuid4()
    token = encode_cursor(SortKey.parse("-price"), Decimal("12.50"), row_id)
    assert decode_cursor(token, SortKey("price", descending=True)) == ("12.50", str(row_id))
    with pytest.raises(InvalidCursorError):
        decode_cursor(token, SortKey("price"))


@pytest.mark.parametrize(
    "token",
    [
        "",
        "!!!",
        base64.urlsafe_b64encode(b"[1, 2]").decode(),
        base64.urlsafe_b64encode(json.dumps({"s": "price", "v": 1}).encode()).decode(),
        "A" * 2000,
    ],
)
def test_unreadable_cursors_are_refused(token: str) -> None:
    with pytest.raises(InvalidCursorError):
        decode_cursor(token, SortKey("price"))


class Even(Specification[int]):
    def is_satisfied_by(self, candidate: int) -> bool:
        return candidate % 2 == 0

    def to_sql(self):  # type: ignore[no-untyped-def]  # never compiled in this test
        raise NotImplementedError


class Small(Even):
    def is_satisfied_by(self, candidate: int) -> bool:
        return candidate < 5


def test_combinators_and_their_neutral_elements() -> None:
    numbers = range(10)
    assert [n for n in numbers if (Even() & Small()).is_satisfied_by(n)] == [0, 2, 4]
    assert [n for n in numbers if (Even() | Small()).is_satisfied_by(n)] == [0, 1, 2, 3, 4, 6, 8]
    assert [n for n in numbers if not_spec(Even()).is_satisfied_by(n)] == [1, 3, 5, 7, 9]
    assert isinstance(and_spec(), TrueSpecification)
    assert isinstance(or_spec(), FalseSpecification)
    assert and_spec(Even()) == Even()
    assert and_spec(Even(), Small()) == AndSpecification((Even(), Small()))
    assert str(TrueSpecification().to_sql()) == "true"
