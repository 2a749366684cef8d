"""Servers for a benchmark run: databases, Redis, and one pinned uvicorn worker per app."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
from tests.support.tokens import TestIssuer, serve_jwks

from servicekit.data.embedded import EmbeddedPostgres, EmbeddedRedis, free_port
from servicekit.data.migrations import upgrade_head

ROOT = Path(__file__).resolve().parents[1]
SERVER_CORE = 0  # uvicorn's core; wrk runs on the other one
APPS = {
    "baseline": "bench.baseline_app:create_app",
    "auth": "auth_service.main:create_app",
    "orders": "orders_service.main:create_app",
    "orders-redis-only": "orders_service.main:create_app",
    "orders-uncached": "orders_service.main:create_app",
    "cachekit": "bench.cachekit_app:create_app",
}
# Variants of an app: the same code with other settings, as a process of its own.
APP_ENV = {
    "orders-redis-only": {"ORDERS_CACHE_LOCAL_TTL_S": "0"},  # every cache hit is a Redis GET
    "orders-uncached": {"ORDERS_CACHE_ENABLED": "false"},  # item reads from PostgreSQL
}


@dataclass
class BenchStack:
    env: dict[str, str]
    log_dir: Path
    urls: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    # Signs the access tokens authenticated scenarios send; orders trusts its JWKS.
    issuer: TestIssuer = field(default_factory=TestIssuer)

    def token(self, *, tenant_id: str = "bench", roles: tuple[str, ...] = ("admin",)) -> str:
        """An access token valid for the whole run (scenarios reuse it, as real clients do)."""
        return self.issuer.issue(tenant_id=tenant_id, roles=list(roles), ttl_s=3600)

    def start(self, name: str, extra_env: dict[str, str] | None = None) -> str:
        """Start app `name` pinned to SERVER_CORE (once) and return its base URL."""
        if name in self.urls:
            return self.urls[name]
        port = free_port()
        log = (self.log_dir / f"{name}.log").open("wb")
        cmd = [
            "taskset",
            "-c",
            str(SERVER_CORE),
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            APPS[name],
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
        ]
        proc = subprocess.Popen(
            cmd,
            env={**os.environ, **self.env, **APP_ENV.get(name, {}), **(extra_env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited; see {self.log_dir / (name + '.log')}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url + "/health/live", timeout=1).status_code == 200:
                    self.urls[name], self.procs[name] = url, proc
                    return url
            time.sleep(0.1)
        proc.kill()
        raise TimeoutError(f"{name} did not start")

    def stop_all(self) -> None:
        for proc in self.procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                proc.kill()


async def _fresh_database(server: str, name: str) -> str:
    conn = await asyncpg.connect(server.rsplit("/", 1)[0] + "/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return server.rsplit("/", 1)[0] + "/" + name


@contextlib.contextmanager
def bench_stack() -> Iterator[BenchStack]:
    """Use BENCH_DATABASE_URL / BENCH_REDIS_URL when given, else embedded servers."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    with contextlib.ExitStack() as stack:
        pg_url = os.environ.get("BENCH_DATABASE_URL")
        redis_url = os.environ.get("BENCH_REDIS_URL")
        if not pg_url:
            pg = stack.enter_context(EmbeddedPostgres(tmp / "pg"))
            pg_url = pg.url()
        if not redis_url:
            redis_url = stack.enter_context(EmbeddedRedis(tmp / "redis", persist=False)).url()
        auth_db = asyncio.run(_fresh_database(pg_url, "bench_auth"))
        orders_db = asyncio.run(_fresh_database(pg_url, "bench_orders"))
        upgrade_head("auth", auth_db)
        upgrade_head("orders", orders_db)
        issuer = TestIssuer()
        jwks = stack.enter_context(serve_jwks(issuer))
        env = {
            "AUTH_DATABASE_URL": auth_db,
            "ORDERS_DATABASE_URL": orders_db,
            "ORDERS_REDIS_URL": redis_url,
            "AUTH_ENVIRONMENT": "test",
            # wrk sends every token request from one address: the limiter still runs (its
            # cost is measured) but never refuses.
            "AUTH_TOKEN_REQUESTS_PER_IP_PER_MINUTE": "100000000",
            "AUTH_TOKEN_BURST_PER_IP": "100000000",
            "AUTH_TOKEN_REQUESTS_PER_IDENTITY_PER_MINUTE": "100000000",
            "AUTH_TOKEN_BURST_PER_IDENTITY": "100000000",
            "ORDERS_ENVIRONMENT": "test",
            "ORDERS_JWKS_URL": jwks.url,
            "ORDERS_JWT_ISSUER": issuer.issuer,
            "ORDERS_JWT_AUDIENCE": issuer.audience,
        }
        bench = BenchStack(env=env, log_dir=tmp, issuer=issuer)
        try:
            yield bench
        finally:
            bench.stop_all()
    shutil.rmtree(tmp, ignore_errors=True)
