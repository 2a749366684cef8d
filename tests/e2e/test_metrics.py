"""`/metrics` of a real process parses with prometheus-client and moves with the traffic."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.metrics import scrape, value
from tests.support.processes import ServiceProcess

LIVE = {"method": "GET", "route": "/health/live", "status": "200"}
UNMATCHED = {"method": "GET", "route": "unmatched", "status": "404"}


def test_metrics_parse_and_count_requests_by_route_template(
    auth_database_url: str, tmp_path: Path
) -> None:
    env = {"AUTH_DATABASE_URL": auth_database_url, "AUTH_ENVIRONMENT": "test"}
    proc = ServiceProcess("auth_service.main:create_app", env, tmp_path / "svc.log").start()
    try:
        before = scrape(proc.base_url)
        for _ in range(7):
            assert httpx.get(proc.base_url + "/health/live").status_code == 200
        for n in range(3):
            assert httpx.get(f"{proc.base_url}/no/such/path/{n}").status_code == 404
        assert httpx.get(proc.base_url + "/health/ready").status_code == 200
        after = scrape(proc.base_url)

        count = "http_requests_total"
        assert value(after, count, **LIVE) - value(before, count, **LIVE) == 7
        assert value(after, count, **UNMATCHED) - value(before, count, **UNMATCHED) == 3
        hist = "http_request_duration_seconds_count"
        assert value(after, hist, **LIVE) - value(before, hist, **LIVE) == 7
        # Raw paths never become labels (unbounded cardinality).
        assert not any("/no/such" in dict(labels).get("route", "") for _, labels in after)
        assert value(after, "http_requests_in_flight") == 1  # the scrape itself
        # The pool opened for the readiness check shows up in the pool gauges.
        assert value(after, "db_pool_connections", state="size") >= 1
        assert ("db_pool_connections", frozenset({("state", "checked_out")})) in after
        assert value(after, "db_pool_connections", state="waiting") == 0
    finally:
        assert proc.stop() == 0


def test_metrics_add_up_across_processes_in_multiprocess_mode(
    auth_database_url: str, tmp_path: Path
) -> None:
    """With PROMETHEUS_MULTIPROC_DIR shared (as uvicorn workers share it), any process's
    scrape reports the traffic of all of them."""
    shared_dir = tmp_path / "prom"
    shared_dir.mkdir()
    env = {
        "AUTH_DATABASE_URL": auth_database_url,
        "AUTH_ENVIRONMENT": "test",
        "PROMETHEUS_MULTIPROC_DIR": str(shared_dir),
    }
    one = ServiceProcess("auth_service.main:create_app", env, tmp_path / "one.log").start()
    two = ServiceProcess("auth_service.main:create_app", env, tmp_path / "two.log").start()
    try:
        before = scrape(one.base_url)
        for _ in range(3):
            httpx.get(one.base_url + "/health/live")
        for _ in range(4):
            httpx.get(two.base_url + "/health/live")
        after_one, after_two = scrape(one.base_url), scrape(two.base_url)
        count = "http_requests_total"
        assert value(after_one, count, **LIVE) - value(before, count, **LIVE) == 7
        assert value(after_two, count, **LIVE) == value(after_one, count, **LIVE)
    finally:
        assert one.stop() == 0
        assert two.stop() == 0
