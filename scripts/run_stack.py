"""`make run`: the whole stack in the foreground, on embedded servers unless URLs are given.

With AUTH_DATABASE_URL, ORDERS_DATABASE_URL and ORDERS_REDIS_URL set, those servers are used
and nothing embedded starts. Otherwise a real PostgreSQL and Redis start from wheels with their
data in .data/. Ctrl-C or SIGTERM stops every process this script started.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx

from auth_service.devstack import prepare_local_run
from servicekit.embedded import EmbeddedPostgres, EmbeddedRedis, wait_for_port
from servicekit.migrations import upgrade_head

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("STACK_DATA_DIR", ROOT / ".data"))
AUTH_PORT = int(os.environ.get("AUTH_PORT", "8001"))
ORDERS_PORT = int(os.environ.get("ORDERS_PORT", "8002"))

stop_requested = threading.Event()


def say(message: str) -> None:
    print(f"[stack] {message}", flush=True)


async def ensure_database(server_url: str, name: str) -> None:
    dsn = server_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    conn = await asyncpg.connect(dsn.rsplit("/", 1)[0] + "/postgres")
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


@contextlib.contextmanager
def servers() -> Iterator[dict[str, str]]:
    """Yield the env the services need, starting embedded servers when no URL is given."""
    given = {
        k: os.environ[k]
        for k in ("AUTH_DATABASE_URL", "ORDERS_DATABASE_URL", "ORDERS_REDIS_URL")
        if os.environ.get(k)
    }
    if len(given) == 3:
        say("using the given PostgreSQL and Redis (no embedded servers)")
        yield given
        return
    if given:
        say(
            "partial URLs given; set all of AUTH_DATABASE_URL, ORDERS_DATABASE_URL and "
            "ORDERS_REDIS_URL to use your own servers. Starting embedded ones."
        )
    DATA.mkdir(parents=True, exist_ok=True)
    pg = EmbeddedPostgres(DATA / "postgres")
    rd = EmbeddedRedis(DATA / "redis")
    try:
        pg.start()
        say(f"embedded PostgreSQL on 127.0.0.1:{pg.port} (data in {pg.data_dir})")
        rd.start()
        say(f"embedded Redis on 127.0.0.1:{rd.port} (data in {rd.data_dir})")
        for name in ("auth", "orders"):
            asyncio.run(ensure_database(pg.url(), name))
        yield {
            "AUTH_DATABASE_URL": pg.url("auth"),
            "ORDERS_DATABASE_URL": pg.url("orders"),
            "ORDERS_REDIS_URL": rd.url(),
        }
    finally:
        rd.stop()
        pg.stop()
        say("embedded servers stopped")


# No load balancer in front of a local run: Ctrl-C needs no drain window (env still wins).
_LOCAL_STOP = {"AUTH_DRAIN_WINDOW_S": "0", "ORDERS_DRAIN_WINDOW_S": "0"}


def uvicorn(app: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "servicekit.serve",  # the services' runner: SIGTERM drains, then exits 0
            app,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env={**_LOCAL_STOP, **os.environ, **env},
        cwd=ROOT,
        # Own process group: Ctrl-C reaches this script, which then stops the children in order.
        start_new_session=True,
    )


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not stop_requested.is_set():
        if proc.poll() is not None:
            raise RuntimeError(f"{url} process exited with {proc.returncode}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        stop_requested.wait(0.1)
    if not stop_requested.is_set():
        raise TimeoutError(f"{url} not ready after {timeout_s}s")


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in reversed(procs):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in reversed(procs):
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def bootstrap_env(env: dict[str, str]) -> dict[str, str]:
    """Settings for a local run; the auth bootstrap hook may add to them."""
    env = {
        **env,
        "AUTH_ISSUER": f"http://127.0.0.1:{AUTH_PORT}",
        "ORDERS_JWT_ISSUER": f"http://127.0.0.1:{AUTH_PORT}",
        "ORDERS_JWKS_URL": os.environ.get(
            "ORDERS_JWKS_URL", f"http://127.0.0.1:{AUTH_PORT}/.well-known/jwks.json"
        ),
    }
    return prepare_local_run(env, data_dir=DATA, say=say)


def main() -> int:
    def on_signal(signum: int, _frame: object) -> None:
        stop_requested.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    procs: list[subprocess.Popen[bytes]] = []
    code = 0
    try:
        with servers() as env:
            say("migrating auth and orders")
            upgrade_head("auth", env["AUTH_DATABASE_URL"])
            upgrade_head("orders", env["ORDERS_DATABASE_URL"])
            env = bootstrap_env(env)
            procs.append(uvicorn("auth_service.main:create_app", AUTH_PORT, env))
            wait_for_port("127.0.0.1", AUTH_PORT, timeout_s=60)
            wait_ready(f"http://127.0.0.1:{AUTH_PORT}/health/live", procs[0])
            procs.append(uvicorn("orders_service.main:create_app", ORDERS_PORT, env))
            wait_ready(f"http://127.0.0.1:{ORDERS_PORT}/health/live", procs[1])
            if not stop_requested.is_set():
                say(f"auth   http://127.0.0.1:{AUTH_PORT}   (docs /docs)")
                say(f"orders http://127.0.0.1:{ORDERS_PORT}   (docs /docs)")
                say("Ctrl-C stops everything")
            while not stop_requested.wait(0.5):
                dead = [p for p in procs if p.poll() is not None]
                if dead:
                    say(f"a service exited with {dead[0].returncode}; stopping the stack")
                    code = 1
                    break
            say("stopping")
            stop(procs)
    except Exception as exc:  # noqa: BLE001 - report, clean up, exit non-zero
        say(f"failed: {exc}")
        stop(procs)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
