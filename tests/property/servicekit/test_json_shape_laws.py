"""Laws of the JSON shape check the request limits run before the app parses a body."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from servicekit.web.limits import json_shape_violation

# Strings full of the bytes the scanner looks for, escapes included.
tricky_text = st.text(alphabet='[]{},"\\:ab \n\u00e9', max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | tricky_text,
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(tricky_text, children, max_size=4)
    ),
    max_leaves=40,
)


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


def _longest_array(value: Any) -> int:
    if isinstance(value, list):
        return max([len(value), *(_longest_array(v) for v in value)])
    if isinstance(value, dict):
        return max((_longest_array(v) for v in value.values()), default=0)
    return 0


@given(
    value=json_values,
    max_depth=st.integers(1, 6),
    max_items=st.integers(1, 6),
    indent=st.sampled_from([None, 2]),
)
def test_a_body_is_refused_exactly_when_the_parsed_value_is_too_deep_or_too_long(
    value: Any, max_depth: int, max_items: int, indent: int | None
) -> None:
    """For any JSON value and limits: the byte scan refuses the encoded value if and only if
    the parsed value nests deeper than max_depth or holds an array longer than max_items."""
    body = json.dumps(value, indent=indent, ensure_ascii=False).encode()
    too_deep = _depth(value) > max_depth
    too_long = _longest_array(value) > max_items
    verdict = json_shape_violation(body, max_depth=max_depth, max_array_items=max_items)
    assert (verdict is not None) == (too_deep or too_long)


@given(junk=st.binary(max_size=200), max_depth=st.integers(1, 4), max_items=st.integers(1, 4))
def test_any_bytes_get_a_verdict_without_error(junk: bytes, max_depth: int, max_items: int) -> None:
    """For any bytes (malformed JSON included) the scan answers and never raises: what is not
    JSON is left to the parser that runs after it."""
    verdict = json_shape_violation(junk, max_depth=max_depth, max_array_items=max_items)
    assert verdict is None or isinstance(verdict, str)
