"""The `next` link: the request's own query, as the client spelled it, with the new cursor."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from starlette.requests import Request

from servicekit.web.paging import next_link


def _request(query: bytes, path: str = "/api/v1/items") -> Request:
    return Request(
        {
            "type": "http",
            "method": "GET",
            "scheme": "http",
            "server": ("t", 80),
            "path": path,
            "root_path": "",
            "query_string": query,
            "headers": [],
        }
    )


def test_the_last_page_has_no_next() -> None:
    assert next_link(_request(b"limit=2"), None) is None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (b"", "/api/v1/items?cursor=c.1"),
        (b"limit=2&sort=-price", "/api/v1/items?limit=2&sort=-price&cursor=c.1"),
        # The old cursor goes, however its name is spelled; the others keep their order.
        (b"cursor=old&category=k&%63ursor=old2", "/api/v1/items?category=k&cursor=c.1"),
        # Escapes and `+` stay as the client sent them; empty pairs go.
        (
            b"q=caf%C3%A9+au+lait&&tag=a%26b",
            "/api/v1/items?q=caf%C3%A9+au+lait&tag=a%26b&cursor=c.1",
        ),
        # A raw byte outside ASCII is escaped as that byte.
        (b"q=caf\xe9", "/api/v1/items?q=caf%E9&cursor=c.1"),
    ],
)
def test_next_keeps_the_query_and_replaces_the_cursor(query: bytes, expected: str) -> None:
    assert next_link(_request(query), "c.1") == expected


def test_a_cursor_with_reserved_characters_reads_back_the_same() -> None:
    cursor = "eyJ2IjoxfQ==.a/b+c&d"
    link = next_link(_request(b"limit=2"), cursor)
    assert link is not None
    assert dict(parse_qsl(urlsplit(link).query))["cursor"] == cursor
