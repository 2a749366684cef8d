"""Probe endpoints, in the `application/health+json` shape (draft-inadarei-api-health-check).

- `/health/live`: no I/O; 200 while the event loop turns, whatever the dependencies do.
- `/health/ready`: every check, concurrently, each within its own timeout; 503 when a critical
  one fails or while the process drains (SIGTERM); a soft dependency that fails is `warn`, 200.
- `/health/startup`: 503 until every critical check answered once and the schema is at the
  service's Alembic head; then 200 for good.
- `/health/details`: all checks, versions, uptime; only with the operator's bearer token
  (setting `health_details_token`), else 404.

Probe bodies name components (`postgres`, `redis`), never a host, URL or credential: an error
shows as its exception class; the full message goes to the log, once per state change.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import platform
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import TYPE_CHECKING, Any

import httpx
from fastapi import APIRouter, Request
from sqlalchemy import text
from starlette.responses import Response

from servicekit.core.jsonutil import dumps
from servicekit.core.logging import scrub
from servicekit.data.migrations import current_revision, head_revision
from servicekit.web.fastpath import Answer, fast_answer
from servicekit.web.shutdown import ShutdownState

if TYPE_CHECKING:
    from servicekit.core.state import ServiceResources

log = logging.getLogger("servicekit.web.health")

HEALTH_CONTENT_TYPE = "application/health+json"
_LIVE_BODY = b'{"status":"pass"}'

PASS, WARN, FAIL = "pass", "warn", "fail"


class HealthResponse(Response):
    media_type = HEALTH_CONTENT_TYPE


_HEALTH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": [PASS, WARN, FAIL]},
        "output": {"type": "string"},
        "checks": {
            "type": "object",
            "description": "keyed `<component>:<measurement>`, e.g. `postgres:responseTime`",
            "additionalProperties": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "componentId": {"type": "string"},
                        "componentType": {"type": "string"},
                        "status": {"type": "string", "enum": [PASS, WARN, FAIL]},
                        "observedValue": {"type": "number"},
                        "observedUnit": {"type": "string", "enum": ["ms"]},
                        "time": {"type": "string", "format": "date-time"},
                        "output": {"type": "string"},
                    },
                },
            },
        },
    },
    "required": ["status"],
}


def _documented(ok: str, failing: str | None = None) -> dict[int | str, dict[str, Any]]:
    content = {HEALTH_CONTENT_TYPE: {"schema": _HEALTH_SCHEMA}}
    out: dict[int | str, dict[str, Any]] = {200: {"description": ok, "content": content}}
    if failing:
        out[503] = {"description": failing, "content": content}
    return out


# A probe raises when its dependency does not answer correctly; returning means "pass".
Probe = Callable[["ServiceResources"], Awaitable[None]]


@dataclass(frozen=True)
class HealthCheck:
    """One named dependency check; its key in `checks` is `<name>:<measurement>`."""

    name: str
    probe: Probe
    component_type: str = "datastore"
    # A failing non-critical (soft) dependency reports `warn` and keeps the pod ready.
    critical: bool = True
    # None: the service's `health_check_timeout_s`.
    timeout_s: float | None = None
    measurement: str = "responseTime"
    # Releases what the probe keeps between calls (a client); run when the app stops.
    aclose: Callable[[], Awaitable[None]] | None = None

    @property
    def key(self) -> str:
        return f"{self.name}:{self.measurement}"


@dataclass(frozen=True)
class CheckResult:
    status: str
    observed_ms: float
    time: str
    error: str | None = None  # exception class name only: safe in a probe body

    def as_json(self, check: HealthCheck) -> dict[str, Any]:
        body: dict[str, Any] = {
            "componentId": check.name,
            "componentType": check.component_type,
            "status": self.status,
            "observedValue": self.observed_ms,
            "observedUnit": "ms",
            "time": self.time,
        }
        if self.error:
            body["output"] = self.error
        return body


async def _postgres_probe(resources: ServiceResources) -> None:
    async with resources.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def _redis_probe(resources: ServiceResources) -> None:
    if resources.redis is None:
        raise RuntimeError("no Redis pool")
    if not await resources.redis.ping():
        raise RuntimeError("PING not answered")


def postgres_check(*, critical: bool = True) -> HealthCheck:
    """`SELECT 1` through the service's own pool (so a full pool shows up too)."""
    return HealthCheck("postgres", _postgres_probe, critical=critical)


def redis_check(*, critical: bool = True) -> HealthCheck:
    """`PING` through the service's own Redis pool."""
    return HealthCheck("redis", _redis_probe, critical=critical)


def http_check(
    name: str, url: str, *, critical: bool = False, component_type: str = "component"
) -> HealthCheck:
    """GET `url` and expect a 2xx: for soft dependencies such as the issuer's JWKS endpoint.

    One client per check, made at the first probe and kept (building one loads the TLS trust
    store, too costly for every probe).
    """
    clients: list[httpx.AsyncClient] = []

    async def probe(_: ServiceResources) -> None:
        if not clients:
            clients.append(httpx.AsyncClient(follow_redirects=False))
        response = await clients[0].get(url, headers={"accept": "application/json"})
        response.raise_for_status()

    async def aclose() -> None:
        while clients:
            await clients.pop().aclose()

    return HealthCheck(name, probe, critical=critical, component_type=component_type, aclose=aclose)


class SchemaNotAtHeadError(RuntimeError):
    """The database's Alembic revision is not the head this code expects."""


def schema_check(section: str) -> HealthCheck:
    """The database is at the Alembic head of `section` (the versions folder is read once)."""
    head: list[str | None] = []

    async def probe(resources: ServiceResources) -> None:
        if not head:
            head.append(await asyncio.to_thread(head_revision, section))
        current = await current_revision(resources.engine, section)
        if current != head[0]:
            raise SchemaNotAtHeadError(f"database at {current}, code expects {head[0]}")

    return HealthCheck("alembic", probe, measurement="schemaVersion")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class HealthMonitor:
    """Runs the checks of one app. Owned by the app; the lifespan hands it the resources."""

    checks: Sequence[HealthCheck]
    shutdown: ShutdownState
    default_timeout_s: float
    migrations_section: str | None = None
    resources: ServiceResources | None = None
    started: bool = False
    created_at: float = field(default_factory=time.monotonic)
    _inflight: dict[str, asyncio.Task[CheckResult]] = field(default_factory=dict)
    _last_status: dict[str, str] = field(default_factory=dict)
    _last_error: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.startup_checks: list[HealthCheck] = [c for c in self.checks if c.critical]
        if self.migrations_section is not None:
            self.startup_checks.append(schema_check(self.migrations_section))

    async def run(self, check: HealthCheck) -> CheckResult:
        """One probe result within the check's timeout.

        The probe runs shielded as a task: a timeout answers `fail` at once without cancelling
        a connection attempt half-way (which can leave a pool slot in a bad state), and a
        dependency that hangs gets one outstanding probe, not one more per readiness call.
        """
        timeout = check.timeout_s or self.default_timeout_s
        task = self._inflight.get(check.key)
        if task is None or task.done():
            task = asyncio.get_running_loop().create_task(self._timed(check))
            self._inflight[check.key] = task
        try:
            result = await asyncio.wait_for(asyncio.shield(task), timeout)
        except TimeoutError:
            result = CheckResult(FAIL, round(timeout * 1000, 3), _now(), "TimeoutError")
        if result.status != PASS and not check.critical:
            result = CheckResult(WARN, result.observed_ms, result.time, result.error)
        self._note(check, result)
        return result

    async def _timed(self, check: HealthCheck) -> CheckResult:
        started = time.perf_counter()
        try:
            if self.resources is None:
                raise RuntimeError("the service has not finished starting")
            await check.probe(self.resources)
        except Exception as exc:  # noqa: BLE001 - any failure of a dependency is a failed check
            elapsed = round((time.perf_counter() - started) * 1000, 3)
            log.debug("check failed", extra={"check": check.key, "error": repr(exc)})
            self._last_error[check.key] = scrub(repr(exc))
            return CheckResult(FAIL, elapsed, _now(), type(exc).__name__)
        return CheckResult(PASS, round((time.perf_counter() - started) * 1000, 3), _now())

    def _note(self, check: HealthCheck, result: CheckResult) -> None:
        """Log a check only when its status changes, so a dead dependency does not flood logs."""
        before = self._last_status.get(check.key)
        if before == result.status:
            return
        self._last_status[check.key] = result.status
        if result.status == PASS:
            if before is not None:
                log.info("dependency recovered", extra={"check": check.key})
        else:
            log.warning(
                "dependency check failing",
                extra={
                    "check": check.key,
                    "status": result.status,
                    "error": self._last_error.get(check.key, result.error),
                },
            )

    async def aclose(self) -> None:
        """Release what the checks keep between probes (called when the app stops)."""
        for task in self._inflight.values():
            task.cancel()
        for check in self.checks:
            if check.aclose is not None:
                await check.aclose()

    async def run_all(self, checks: Sequence[HealthCheck]) -> dict[HealthCheck, CheckResult]:
        results = await asyncio.gather(*(self.run(c) for c in checks))
        return dict(zip(checks, results, strict=True))


def _overall(results: dict[HealthCheck, CheckResult]) -> str:
    statuses = {r.status for r in results.values()}
    if FAIL in statuses:
        return FAIL
    return WARN if WARN in statuses else PASS


def _body(status: str, results: dict[HealthCheck, CheckResult], **extra: Any) -> dict[str, Any]:
    checks: dict[str, list[dict[str, Any]]] = {}
    for check, result in results.items():
        checks.setdefault(check.key, []).append(result.as_json(check))
    return {"status": status, **extra, "checks": checks}


def _response(body: dict[str, Any]) -> Response:
    code = 503 if body["status"] == FAIL else 200
    headers = {"cache-control": "no-store"}
    return Response(dumps(body), status_code=code, media_type=HEALTH_CONTENT_TYPE, headers=headers)


def _versions(service_version: str) -> dict[str, str]:
    found = {"service": service_version, "python": platform.python_version()}
    for dist in ("servicekit", "fastapi", "starlette", "uvicorn", "sqlalchemy", "redis"):
        try:
            found[dist] = package_version(dist)
        except PackageNotFoundError:
            continue
    return found


async def serve_live(_request: Request | None) -> Answer:
    """Liveness: a constant answer (the route and the fast path both call this)."""
    return Answer(200, _LIVE_BODY, [(b"content-type", HEALTH_CONTENT_TYPE.encode())])


def health_router(
    monitor: HealthMonitor | None = None,
    *,
    version: str = "",
    details_token: str | None = None,
) -> APIRouter:
    """The `/health/*` routes for one app; without a monitor only liveness is served."""
    router = APIRouter(prefix="/health", tags=["health"])

    @router.get(
        "/live",
        summary="Liveness: the process and its event loop run",
        response_class=HealthResponse,
        responses=_documented("Alive (never depends on a dependency)"),
    )
    @fast_answer(serve_live)
    async def live() -> Response:
        return (await serve_live(None)).response()

    if monitor is None:
        return router
    mon = monitor

    @router.get(
        "/ready",
        summary="Readiness: dependencies answer in time and the process is not draining",
        response_class=HealthResponse,
        responses=_documented(
            "Ready (`warn`: a soft dependency fails)",
            "A critical dependency fails, or the process is draining",
        ),
    )
    async def ready() -> Response:
        if mon.shutdown.draining:
            return _response({"status": FAIL, "output": "draining", "checks": {}})
        results = await mon.run_all(mon.checks)
        return _response(_body(_overall(results), results))

    @router.get(
        "/startup",
        summary="Startup: dependencies answered once and the schema is at the Alembic head",
        response_class=HealthResponse,
        responses=_documented("Started", "Still starting: a dependency or the schema is not ready"),
    )
    async def startup() -> Response:
        if mon.started:
            return _response({"status": PASS, "checks": {}})
        results = await mon.run_all(mon.startup_checks)
        status = FAIL if FAIL in {r.status for r in results.values()} else PASS
        if status == PASS:
            mon.started = True
            log.info("startup checks passed")
        return _response(_body(status, results))

    if details_token:
        expected = details_token.encode()

        @router.get("/details", include_in_schema=False)
        async def details(request: Request) -> Response:
            given = request.headers.get("authorization", "")
            scheme, _, token = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), expected):
                return Response(
                    dumps({"status": FAIL, "output": "unauthorized"}),
                    status_code=401,
                    media_type=HEALTH_CONTENT_TYPE,
                    headers={"www-authenticate": 'Bearer realm="health"'},
                )
            extra = [c for c in mon.startup_checks if c not in mon.checks]
            results = await mon.run_all([*mon.checks, *extra])
            body = _body(
                FAIL if mon.shutdown.draining else _overall(results),
                results,
                version=version,
                versions=_versions(version),
                uptime_s=round(time.monotonic() - mon.created_at, 3),
                started=mon.started,
                draining=mon.shutdown.draining,
            )
            # Only a check that is down carries its last full error message, for operators.
            for check, result in results.items():
                if result.status != PASS and check.key in mon._last_error:
                    body["checks"][check.key][0]["detail"] = mon._last_error[check.key]
            return _response(body)

    return router
