"""Hypothesis strategy of composed specifications, for every spec family's property tests
(orders' items and pedidos, auth's users and clients)."""

from __future__ import annotations

from typing import TypeVar

from hypothesis import strategies as st

from servicekit.data.specification import Specification, and_spec, not_spec, or_spec

T = TypeVar("T")


def composed(
    leaves: st.SearchStrategy[Specification[T]],
) -> st.SearchStrategy[Specification[T]]:
    """Specifications built from `leaves` with &, |, ~ and the and_/or_/not_ functions."""

    def extend(
        children: st.SearchStrategy[Specification[T]],
    ) -> st.SearchStrategy[Specification[T]]:
        pairs = st.tuples(children, children)
        return st.one_of(
            pairs.map(lambda ab: ab[0] & ab[1]),
            pairs.map(lambda ab: ab[0] | ab[1]),
            children.map(lambda a: ~a),
            st.lists(children, max_size=3).map(lambda specs: and_spec(*specs)),
            st.lists(children, max_size=3).map(lambda specs: or_spec(*specs)),
            children.map(not_spec),
        )

    return st.recursive(leaves, extend, max_leaves=6)
