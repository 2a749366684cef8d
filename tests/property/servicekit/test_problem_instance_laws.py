"""Laws of the `instance` member of every problem body."""

from __future__ import annotations

import re
from urllib.parse import unquote

from hypothesis import given
from hypothesis import strategies as st

from servicekit.core.problems import as_uri_reference

URI_REFERENCE = re.compile(r"^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?#]|%[0-9A-Fa-f]{2})*$")
paths = st.text(st.characters(blacklist_categories=["Cs"]), max_size=40).map(lambda t: "/" + t)


@given(path=paths)
def test_any_decoded_path_becomes_a_uri_reference_naming_the_same_path(path: str) -> None:
    """For any decoded request path p: as_uri_reference(p) is a URI reference (RFC 3986) and
    decodes back to p, unless p itself holds %XX sequences (then they are kept as escapes)."""
    reference = as_uri_reference(path)
    assert URI_REFERENCE.match(reference)
    if not re.search(r"%[0-9A-Fa-f]{2}", path):
        assert unquote(reference) == path


@given(path=paths)
def test_encoding_twice_changes_nothing(path: str) -> None:
    """For any path p: as_uri_reference(as_uri_reference(p)) == as_uri_reference(p), so a
    caller that passes an already encoded instance gets it back as it was."""
    once = as_uri_reference(path)
    assert as_uri_reference(once) == once
