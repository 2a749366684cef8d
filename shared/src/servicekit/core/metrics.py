"""Prometheus metrics: HTTP traffic, pool stats, and each service's domain counters.

- `registry` is the process-wide `MetricsRegistry`. A service declares its counters once, at
  import time: `TOKENS = registry.counter("auth_tokens_issued_total", "...", ["grant_type"])`;
  asking again for the same name returns the same metric (apps are built more than once in tests).
- `RequestMetrics` counts requests and observes latency by method, route template and status,
  and keeps an in-flight gauge (servicekit.web.middleware.EdgeMiddleware calls it).
- `/metrics` renders the registry. With PROMETHEUS_MULTIPROC_DIR set (several uvicorn workers),
  every process writes its samples there and a scrape aggregates them (prometheus-client's
  multiprocess mode); gauges are `livesum`, and a process marks itself dead on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
    multiprocess,
)
from prometheus_client.metrics import MetricWrapperBase
from starlette.responses import Response
from starlette.types import Scope

if TYPE_CHECKING:
    from servicekit.core.state import ServiceResources

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_UNMATCHED = "unmatched"  # a path no route matched: never the raw path (unbounded labels)
_ROUTE_LABEL_ATTR = "_servicekit_metrics_route"

M = TypeVar("M", bound=MetricWrapperBase)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


class MetricsRegistry:
    """Get-or-create metrics on one collector registry, and render it for a scrape."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._metrics: dict[str, MetricWrapperBase] = {}
        if multiprocess_dir() is None:
            # Per-process collectors mean nothing summed across workers.
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)

    def _get_or_create(self, kind: type[M], name: str, factory: Any) -> M:
        key = name.removesuffix("_total") if kind is Counter else name
        found = self._metrics.get(key)
        if found is None:
            found = factory()
            self._metrics[key] = found
        if not isinstance(found, kind):
            raise TypeError(f"metric {name} already exists as {type(found).__name__}")
        return found

    def counter(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> Counter:
        return self._get_or_create(
            Counter,
            name,
            lambda: Counter(name, documentation, labelnames, registry=self.registry),
        )

    def gauge(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        *,
        multiprocess_mode: str = "livesum",
    ) -> Gauge:
        return self._get_or_create(
            Gauge,
            name,
            lambda: Gauge(
                name,
                documentation,
                labelnames,
                registry=self.registry,
                multiprocess_mode=multiprocess_mode,  # type: ignore[arg-type]
            ),
        )

    def histogram(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        *,
        buckets: Sequence[float] = LATENCY_BUCKETS,
    ) -> Histogram:
        return self._get_or_create(
            Histogram,
            name,
            lambda: Histogram(
                name, documentation, labelnames, registry=self.registry, buckets=buckets
            ),
        )

    def render(self) -> bytes:
        """The exposition text of this process, or of every process in multiprocess mode."""
        if multiprocess_dir() is None:
            return generate_latest(self.registry)
        scrape = CollectorRegistry()
        multiprocess.MultiProcessCollector(scrape)  # type: ignore[no-untyped-call]
        return generate_latest(scrape)


registry = MetricsRegistry()

HTTP_REQUESTS = registry.counter(
    "http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
HTTP_LATENCY = registry.histogram(
    "http_request_duration_seconds",
    "Time from request start to the end of the response",
    ["method", "route", "status"],
)
HTTP_IN_FLIGHT = registry.gauge("http_requests_in_flight", "HTTP requests being served")
DB_POOL = registry.gauge(
    "db_pool_connections",
    "Database pool connections by state (checked_out, idle, overflow), the pool size and "
    "the requests waiting for a connection (waiting)",
    ["state"],
)
REDIS_POOL = registry.gauge(
    "redis_pool_connections",
    "Redis pool connections by state (in_use, idle) and the pool's maximum",
    ["state"],
)


def _route_label(route: Any) -> str:
    """The route template (`/items/{item_id}`), cached on the route object itself."""
    if route is None:
        return _UNMATCHED
    label: str | None = getattr(route, _ROUTE_LABEL_ATTR, None)
    if label is None:
        label = getattr(route, "path_format", None) or getattr(route, "path", None) or _UNMATCHED
        with contextlib.suppress(AttributeError):
            setattr(route, _ROUTE_LABEL_ATTR, label)
    return label


class RequestMetrics:
    """Count, time and gauge HTTP requests (called by servicekit.web.middleware.EdgeMiddleware).

    Per request one dict lookup for the label children (cached per method, route template and
    status) and no string building.
    """

    def __init__(self) -> None:
        # (method, route template, status) -> (counter child, histogram child)
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    @staticmethod
    def started() -> None:
        HTTP_IN_FLIGHT.inc()

    def finished(self, scope: Scope, status: int, elapsed_s: float) -> None:
        HTTP_IN_FLIGHT.dec()
        method = scope["method"]
        if method not in _KNOWN_METHODS:
            method = "OTHER"
        # Routing stored the matched route in this same scope dict.
        key = (method, _route_label(scope.get("route")), status)
        children = self._children.get(key)
        if children is None:
            labels = (key[0], key[1], str(key[2]))
            children = (HTTP_REQUESTS.labels(*labels), HTTP_LATENCY.labels(*labels))
            self._children[key] = children
        children[0].inc()
        children[1].observe(elapsed_s)


def sample_pools(resources: ServiceResources) -> None:
    """Copy the current pool counts into the pool gauges."""
    pool: Any = resources.engine.pool
    for state, reader in (
        ("checked_out", "checkedout"),
        ("idle", "checkedin"),
        ("overflow", "overflow"),
        ("size", "size"),
        ("waiting", "waiting"),
    ):
        fn = getattr(pool, reader, None)
        if fn is not None:
            DB_POOL.labels(state).set(max(int(fn()), 0))
    if resources.redis is not None:
        rpool: Any = resources.redis.connection_pool
        REDIS_POOL.labels("in_use").set(len(getattr(rpool, "_in_use_connections", ())))
        REDIS_POOL.labels("idle").set(len(getattr(rpool, "_available_connections", ())))
        REDIS_POOL.labels("max").set(getattr(rpool, "max_connections", 0) or 0)


async def sample_pools_forever(resources: ServiceResources, *, every_s: float = 5.0) -> None:
    """Keep pool gauges fresh in every worker, not only in the one a scrape reaches."""
    while True:
        sample_pools(resources)
        await asyncio.sleep(every_s)


def metrics_response(resources: ServiceResources | None) -> Response:
    if resources is not None:
        sample_pools(resources)
    return Response(registry.render(), media_type=CONTENT_TYPE_LATEST)


def mark_process_dead() -> None:
    """In multiprocess mode, drop this pid's live gauges (in-flight, pools) from the sums."""
    if multiprocess_dir() is not None:
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
