"""Probes of real service processes against real (and deliberately broken) dependencies."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
import yaml

from servicekit.data.embedded import EmbeddedRedis, free_port
from servicekit.data.migrations import upgrade_head
from tests.support.backends import Backends, create_database, drop_database
from tests.support.k8s import CHARTS_DIR
from tests.support.processes import ServiceProcess
from tests.support.tokens import TestIssuer, serve_jwks
from tests.support.waiting import poll

# A service process per test, with dependencies stopped and restarted.
pytestmark = pytest.mark.slow

CHECK_TIMEOUT_S = 1.0
HEALTH_JSON = "application/health+json"
# How long the kubelet waits for a readiness answer (the chart's probe timeout): a probe slower
# than this counts as failed however right its answer, so it is the bound a probe must meet.
KUBELET_TIMEOUT_S = float(
    yaml.safe_load((CHARTS_DIR / "orders" / "values.yaml").read_text())["probes"]["readiness"][
        "timeoutSeconds"
    ]
)
# Changes of state (a dependency stopped or back) show within a few checks, never one.
SETTLE_S = 10 * KUBELET_TIMEOUT_S


def _closed_port_url(scheme: str = "postgresql://postgres") -> str:
    """A URL to a loopback port nothing listens on (connections are refused)."""
    return f"{scheme}@127.0.0.1:{free_port()}/nothing_here"


def _wait_status(url: str, status: int) -> httpx.Response:
    return poll(lambda: _probe(url), lambda r: r.status_code == status, within_s=SETTLE_S)


def _probe(url: str) -> httpx.Response:
    """A probe as the kubelet sends it: one that does not answer in its timeout fails."""
    return httpx.get(url, timeout=KUBELET_TIMEOUT_S)


def _check(body: dict[str, object], key: str) -> dict[str, object]:
    checks = body["checks"]
    assert isinstance(checks, dict)
    [entry] = checks[key]
    assert isinstance(entry, dict)
    return entry


def _assert_no_secrets(text: str, *secrets: str) -> None:
    for secret in ("127.0.0.1", "localhost", "postgresql", "redis://", *secrets):
        assert secret not in text


def test_orders_readiness_follows_redis_and_recovers_without_restart(
    orders_database_url: str, own_redis: EmbeddedRedis, tmp_path: Path
) -> None:
    """Redis stops: ready is 503 within the check timeout, live stays 200; Redis is back:
    ready is 200 again in the same process. The unreachable JWKS is only a warning."""
    jwks_port = free_port()
    env = {
        "ORDERS_DATABASE_URL": orders_database_url,
        "ORDERS_REDIS_URL": own_redis.url(),
        "ORDERS_ENVIRONMENT": "test",
        "ORDERS_JWKS_URL": f"http://127.0.0.1:{jwks_port}/.well-known/jwks.json",
        "ORDERS_HEALTH_CHECK_TIMEOUT_S": str(CHECK_TIMEOUT_S),
    }
    proc = ServiceProcess("orders_service.main:create_app", env, tmp_path / "svc.log").start()
    try:
        ready = httpx.get(proc.base_url + "/health/ready")
        assert ready.status_code == 200
        assert ready.headers["content-type"] == HEALTH_JSON
        body = ready.json()
        assert body["status"] == "warn"  # the soft dependency is down, the pod stays ready
        assert _check(body, "postgres:responseTime")["status"] == "pass"
        redis = _check(body, "redis:responseTime")
        assert redis["status"] == "pass"
        assert redis["observedUnit"] == "ms"
        assert isinstance(redis["observedValue"], float)
        assert {"componentId", "time"} <= redis.keys()
        assert _check(body, "jwks:responseTime")["status"] == "warn"
        _assert_no_secrets(ready.text, str(jwks_port), str(own_redis.port))

        own_redis.stop()
        down = _wait_status(proc.base_url + "/health/ready", 503)
        assert down.status_code == 503
        assert down.json()["status"] == "fail"
        assert _check(down.json(), "redis:responseTime")["status"] == "fail"
        _assert_no_secrets(down.text, str(own_redis.port))
        assert httpx.get(proc.base_url + "/health/live").status_code == 200

        own_redis.start()  # same port, same data folder
        back = _wait_status(proc.base_url + "/health/ready", 200)
        assert back.status_code == 200, back.text
        assert _check(back.json(), "redis:responseTime")["status"] == "pass"
    finally:
        assert proc.stop() == 0


@pytest.mark.parametrize("service", ["auth", "orders"])
def test_unreachable_database_fails_readiness_and_startup_but_not_liveness(
    service: str, backends: Backends, tmp_path: Path
) -> None:
    prefix = service.upper()
    dead_url = _closed_port_url()
    env = {
        f"{prefix}_DATABASE_URL": dead_url,
        f"{prefix}_ENVIRONMENT": "test",
        f"{prefix}_HEALTH_CHECK_TIMEOUT_S": str(CHECK_TIMEOUT_S),
        "ORDERS_REDIS_URL": backends.redis_url,
        "ORDERS_JWKS_URL": "http://127.0.0.1:9/jwks.json",
    }
    proc = ServiceProcess(f"{service}_service.main:create_app", env, tmp_path / "svc.log").start()
    try:
        ready = _probe(proc.base_url + "/health/ready")
        assert ready.status_code == 503
        assert _check(ready.json(), "postgres:responseTime")["status"] == "fail"
        startup = httpx.get(proc.base_url + "/health/startup", timeout=5)
        assert startup.status_code == 503
        assert httpx.get(proc.base_url + "/health/live").status_code == 200
        for text in (ready.text, startup.text):
            _assert_no_secrets(text, dead_url.split("@")[1].split("/")[0], "nothing_here")
    finally:
        assert proc.stop() == 0


def _early_requests(service: str, issuer: TestIssuer) -> list[tuple[str, str, dict[str, object]]]:
    """Calls that need the service's tables: (method, path, httpx keyword arguments)."""
    if service == "auth":
        form = {"grant_type": "client_credentials", "client_id": "c", "client_secret": "s"}
        return [("POST", "/oauth/token", {"data": form})]
    bearer = {"Authorization": f"Bearer {issuer.issue(roles=['admin'], tenant_id='t-early')}"}
    item = {
        "sku": "SKU-EARLY",
        "name": "Caneca",
        "price": {"amount": "1.00", "currency": "BRL"},
        "category": "kitchen",
        "quantity": 1,
    }
    return [
        ("GET", "/api/v1/items", {"headers": bearer}),
        ("GET", "/api/v1/pedidos", {"headers": bearer}),
        ("POST", "/api/v1/items", {"headers": {**bearer, "Idempotency-Key": "k1"}, "json": item}),
    ]


@pytest.mark.parametrize("service", ["auth", "orders"])
def test_startup_is_503_until_a_fresh_database_is_migrated(
    service: str, backends: Backends, tmp_path: Path, redis_prefix: str
) -> None:
    prefix = service.upper()
    db_url = asyncio.run(create_database(backends.postgres_url, f"test_startup_{service}"))
    token = "details-token-for-operators"
    issuer = TestIssuer()
    with serve_jwks(issuer) as jwks:
        env = {
            f"{prefix}_DATABASE_URL": db_url,
            f"{prefix}_ENVIRONMENT": "test",
            f"{prefix}_HEALTH_DETAILS_TOKEN": token,
            "ORDERS_REDIS_URL": backends.redis_url,
            "ORDERS_JWKS_URL": jwks.url,
            "ORDERS_JWT_ISSUER": issuer.issuer,
            "ORDERS_JWT_AUDIENCE": issuer.audience,
            "ORDERS_CACHE_NAMESPACE": redis_prefix + "cache:",
            "ORDERS_IDEMPOTENCY_NAMESPACE": redis_prefix + "idem:",
        }
        proc = ServiceProcess(
            f"{service}_service.main:create_app", env, tmp_path / "svc.log"
        ).start()
        try:
            _startup_until_migrated(service, proc, token, db_url, issuer)
        finally:
            assert proc.stop() == 0
            asyncio.run(drop_database(db_url))


def _startup_until_migrated(
    service: str, proc: ServiceProcess, token: str, db_url: str, issuer: TestIssuer
) -> None:
    startup = httpx.get(proc.base_url + "/health/startup")
    assert startup.status_code == 503
    assert _check(startup.json(), "alembic:schemaVersion")["status"] == "fail"
    assert _check(startup.json(), "postgres:responseTime")["status"] == "pass"
    # The database answers, so the pod may be ready; it is the schema that is missing.
    assert httpx.get(proc.base_url + "/health/ready").status_code == 200

    details = httpx.get(
        proc.base_url + "/health/details", headers={"authorization": f"Bearer {token}"}
    )
    assert details.json()["started"] is False
    assert details.json()["versions"]["service"] == "0.1.0"
    assert details.json()["uptime_s"] > 0
    assert "alembic:schemaVersion" in details.json()["checks"]
    assert httpx.get(proc.base_url + "/health/details").status_code == 401
    wrong = {"authorization": "Bearer not-the-token"}
    assert httpx.get(proc.base_url + "/health/details", headers=wrong).status_code == 401

    # Requests that need the missing tables are a retryable 503, never a 500, on both services.
    for method, path, kwargs in _early_requests(service, issuer):
        early = httpx.request(method, proc.base_url + path, **kwargs)  # type: ignore[arg-type]
        assert early.status_code == 503, (method, path, early.text)
        assert early.headers["retry-after"], (method, path)
        assert early.headers["content-type"] == "application/problem+json", (method, path)

    upgrade_head(service, db_url)
    after = httpx.get(proc.base_url + "/health/startup")
    assert after.status_code == 200, after.text
    assert after.json()["status"] == "pass"
    assert httpx.get(proc.base_url + "/health/startup").status_code == 200
    if service == "auth":
        # The keys are bootstrapped in the background once the schema exists.
        deadline = time.monotonic() + SETTLE_S
        while not httpx.get(proc.base_url + "/.well-known/jwks.json").json()["keys"]:
            assert time.monotonic() < deadline, "auth never created its keys"
            time.sleep(0.2)


def test_details_view_is_not_served_without_a_configured_token(
    auth_database_url: str, tmp_path: Path
) -> None:
    env = {"AUTH_DATABASE_URL": auth_database_url, "AUTH_ENVIRONMENT": "test"}
    proc = ServiceProcess("auth_service.main:create_app", env, tmp_path / "svc.log").start()
    try:
        assert httpx.get(proc.base_url + "/health/details").status_code == 404
        assert httpx.get(proc.base_url + "/health/startup").status_code == 200
    finally:
        assert proc.stop() == 0
