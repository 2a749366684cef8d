"""Reading list answers: the cursor inside a `next` link (ARCHITECTURE 5)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit


def cursor_of(next_link: str) -> str:
    """The `cursor` query parameter of a relative `next` URL."""
    (cursor,) = parse_qs(urlsplit(next_link).query)["cursor"]
    return cursor
