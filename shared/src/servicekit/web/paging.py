"""The `next` link of a list answer (ARCHITECTURE 5: `{"items": [..], "next": <relative URL>}`)."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request


def next_link(request: Request, cursor: str | None) -> str | None:
    """The relative URL of the next page: this request's query with the new cursor (None on
    the last page). The client follows it as is, filters included."""
    if cursor is None:
        return None
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
    params.append(("cursor", cursor))
    return f"{request.url.path}?{urlencode(params)}"
