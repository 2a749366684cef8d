"""Declarations a route carries on its endpoint function (`@fast_read`, `@fast_answer`,
`@body_cap`), and the one walk over an app's routes that finds them (done once per app, at its
first request, by the middleware that acts on the declaration)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import BaseRoute

F = TypeVar("F", bound=Callable[..., Any])


def mark(name: str, value: object) -> Callable[[F], F]:
    """A decorator that records `value` under `name` on the endpoint it decorates."""

    def apply(endpoint: F) -> F:
        setattr(endpoint, name, value)
        return endpoint

    return apply


def marked_routes(routes: list[BaseRoute], name: str) -> Iterator[tuple[APIRoute, str, Any]]:
    """(route, path template, value) of every API route whose endpoint carries mark `name`,
    included routers and their prefixes resolved."""
    for context in iter_route_contexts(routes):
        route = context.original_route
        value = getattr(getattr(route, "endpoint", None), name, None)
        template = context.path_format
        if value is not None and template is not None and isinstance(route, APIRoute):
            yield route, template, value
