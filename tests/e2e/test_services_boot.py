"""Both services start as real uvicorn processes and serve liveness and their OpenAPI."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.backends import Backends
from tests.support.processes import ServiceProcess


@pytest.mark.parametrize("service", ["auth", "orders"])
def test_service_boots_and_serves_live_and_openapi(
    service: str,
    backends: Backends,
    tmp_path: Path,
    auth_database_url: str,
    orders_database_url: str,
) -> None:
    db_url = auth_database_url if service == "auth" else orders_database_url
    env = {
        f"{service.upper()}_DATABASE_URL": db_url,
        f"{service.upper()}_ENVIRONMENT": "test",
        "ORDERS_REDIS_URL": backends.redis_url,
    }
    proc = ServiceProcess(f"{service}_service.main:create_app", env, tmp_path / "svc.log").start()
    try:
        live = httpx.get(proc.base_url + "/health/live")
        assert live.status_code == 200
        assert live.json() == {"status": "pass"}
        spec = httpx.get(proc.base_url + "/openapi.json").json()
        assert spec["info"]["title"] == service
        assert "/health/live" in spec["paths"]
    finally:
        # servicekit's runner drains on SIGTERM and exits 0 (uvicorn alone would die by -15).
        assert proc.stop() == 0
