"""Load scenarios. Each names the server it hits and may prepare data (tokens, rows) first."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bench.stack import BenchStack


@dataclass(frozen=True)
class Request:
    path: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None


@dataclass(frozen=True)
class Scenario:
    name: str
    server: str  # "baseline" | "auth" | "orders"
    prepare: Callable[[BenchStack], Request]


def _fixed(path: str) -> Callable[[BenchStack], Request]:
    return lambda _stack: Request(path)


SCENARIOS: list[Scenario] = [
    Scenario("baseline: Starlette fixed bytes", "baseline", _fixed("/health/live")),
    Scenario("auth GET /health/live", "auth", _fixed("/health/live")),
    Scenario("orders GET /health/live", "orders", _fixed("/health/live")),
]
