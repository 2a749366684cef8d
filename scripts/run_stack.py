"""`make run`: the whole stack in the foreground, on embedded servers unless URLs are given.

With AUTH_DATABASE_URL, ORDERS_DATABASE_URL and ORDERS_REDIS_URL set, those servers are used
and nothing embedded starts. Otherwise a real PostgreSQL and Redis start from wheels with their
data in .data/. While the stack runs, .data/stack.env (0600) holds its settings for the CLIs.

Ctrl-C or SIGTERM (to this process or its whole group, once or many times, at any moment,
start-up included) stops the services first, then Redis and PostgreSQL, and leaves nothing.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
from types import FrameType


class StopFlag:
    """Set by SIGINT and SIGTERM; waited on with a timeout.

    The handler only assigns a bool: it may run several times, even nested (the signal reaches
    this process from its group and again forwarded by `uv run`), and must never take a lock,
    as threading.Event.set() does (a nested call deadlocked on it). The wakeup fd, written by
    the C-level handler, ends a wait at once.
    """

    def __init__(self) -> None:
        self.requested = False
        self._wakeup, write_end = os.pipe()
        os.set_blocking(self._wakeup, False)
        os.set_blocking(write_end, False)
        signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._on_signal)

    def _on_signal(self, _signum: int, _frame: FrameType | None) -> None:
        self.requested = True

    def wait(self, timeout_s: float) -> bool:
        """True as soon as a stop is requested; False after `timeout_s` without one."""
        if not self.requested:
            select.select([self._wakeup], [], [], timeout_s)
            with contextlib.suppress(BlockingIOError):
                os.read(self._wakeup, 512)
        return self.requested


# Installed before the slow imports below, so a Ctrl-C even then is a clean stop, not a traceback.
STOP = StopFlag()

import asyncio  # noqa: E402 - after the signal handlers, on purpose (see above)
import fcntl  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import asyncpg  # noqa: E402
import httpx  # noqa: E402

from auth_service.devstack import kek_file, prepare_local_run  # noqa: E402
from servicekit.data import stackenv  # noqa: E402
from servicekit.data.embedded import EmbeddedPostgres, EmbeddedRedis  # noqa: E402
from servicekit.data.migrations import upgrade_head  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = stackenv.default_data_dir(ROOT)
STACK_ENV = DATA / stackenv.FILE_NAME
AUTH_PORT = int(os.environ.get("AUTH_PORT", "8001"))
ORDERS_PORT = int(os.environ.get("ORDERS_PORT", "8002"))
# A service that is not live after this long is reported as a failed start.
READY_TIMEOUT_S = float(os.environ.get("STACK_READY_TIMEOUT_S", "60"))
# Each service's own graceful stop is bounded by its settings; this bounds the wait for it.
STOP_TIMEOUT_S = float(os.environ.get("STACK_STOP_TIMEOUT_S", "60"))
URL_VARIABLES = ("AUTH_DATABASE_URL", "ORDERS_DATABASE_URL", "ORDERS_REDIS_URL")


class StopRequestedError(Exception):
    """A signal arrived during start-up: unwind, stopping what already runs."""


def checkpoint() -> None:
    if STOP.requested:
        raise StopRequestedError


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
    given = {k: os.environ[k] for k in URL_VARIABLES if os.environ.get(k)}
    if len(given) == len(URL_VARIABLES):
        say("using the given PostgreSQL and Redis (no embedded servers)")
        yield given
        return
    if given:
        say(
            "partial URLs given; set all of AUTH_DATABASE_URL, ORDERS_DATABASE_URL and "
            "ORDERS_REDIS_URL to use your own servers. Starting embedded ones."
        )
    pg = EmbeddedPostgres(DATA / "postgres")
    rd = EmbeddedRedis(DATA / "redis")
    try:
        pg.start()
        say(f"embedded PostgreSQL on 127.0.0.1:{pg.port} (data in {pg.data_dir})")
        checkpoint()
        rd.start()
        say(f"embedded Redis on 127.0.0.1:{rd.port} (data in {rd.data_dir})")
        checkpoint()
        for name in ("auth", "orders"):
            asyncio.run(ensure_database(pg.url(), name))
        yield {
            "AUTH_DATABASE_URL": pg.url("auth"),
            "ORDERS_DATABASE_URL": pg.url("orders"),
            "ORDERS_REDIS_URL": rd.url(),
        }
    finally:
        # Only after the services stopped (the caller's block has ended): Redis going first
        # would cut orders' invalidation subscription while it still serves.
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
            "servicekit.web.serve",  # the services' runner: SIGTERM drains, then exits 0
            app,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env={**_LOCAL_STOP, **os.environ, **env},
        cwd=ROOT,
        # Own session: a Ctrl-C to the terminal's group reaches this script only, which then
        # stops the children in order.
        start_new_session=True,
    )


def wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        checkpoint()
        if proc.poll() is not None:
            raise RuntimeError(f"{url} process exited with {proc.returncode}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        STOP.wait(0.1)
    raise TimeoutError(f"{url} not ready after {READY_TIMEOUT_S}s")


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in reversed(procs):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in reversed(procs):
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
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


def write_stack_env(env: dict[str, str]) -> None:
    """What the CLIs need to reach this stack; the key-encryption key by its file only."""
    settings = {k: env[k] for k in URL_VARIABLES}
    if not os.environ.get("AUTH_KEY_ENCRYPTION_KEY"):
        settings["AUTH_KEY_ENCRYPTION_KEY_FILE"] = str(kek_file(DATA).resolve())
    settings["STACK_AUTH_URL"] = f"http://127.0.0.1:{AUTH_PORT}"
    settings["STACK_ORDERS_URL"] = f"http://127.0.0.1:{ORDERS_PORT}"
    stackenv.write(
        STACK_ENV, settings, header="the running `make run` stack (removed when it stops)"
    )
    say(f"settings for auth-service and orders-service in {STACK_ENV}")


def watch(procs: list[subprocess.Popen[bytes]]) -> int:
    """Until a stop is requested (0) or a service exits on its own (1)."""
    while not STOP.wait(0.5):
        dead = [p for p in procs if p.poll() is not None]
        if dead:
            say(f"a service exited with {dead[0].returncode}; stopping the stack")
            return 1
    return 0


def hold_data_dir() -> int | None:
    """Lock DATA for this run, or None when another `make run` holds it.

    A second stack on the same folder would stop the first one's PostgreSQL (the embedded
    server stops whatever owns its data folder, as it must after a killed run) and then fail
    on the ports: seen running `make run` twice, the first stack answered 503 from then on.
    flock is released by the kernel when this process ends, however it ends.
    """
    fd = os.open(DATA / "stack.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd  # kept open, so locked, until the process exits


def run() -> int:
    checkpoint()
    # Always: the key-encryption key and stack.env live here with own servers too.
    DATA.mkdir(parents=True, exist_ok=True)
    if hold_data_dir() is None:
        say(f"another `make run` is using {DATA}: stop it first (Ctrl-C in its terminal)")
        return 1
    with servers() as env:
        procs: list[subprocess.Popen[bytes]] = []
        try:
            say("migrating auth and orders")
            upgrade_head("auth", env["AUTH_DATABASE_URL"])
            upgrade_head("orders", env["ORDERS_DATABASE_URL"])
            checkpoint()
            env = bootstrap_env(env)
            checkpoint()
            write_stack_env(env)
            # Both at once (start-up is mostly imports): orders fetches auth's JWKS when it
            # can and again on the first unknown key, so it need not wait for auth.
            procs.append(uvicorn("auth_service.main:create_app", AUTH_PORT, env))
            procs.append(uvicorn("orders_service.main:create_app", ORDERS_PORT, env))
            wait_ready(f"http://127.0.0.1:{AUTH_PORT}/health/live", procs[0])
            wait_ready(f"http://127.0.0.1:{ORDERS_PORT}/health/live", procs[1])
            say(f"auth   http://127.0.0.1:{AUTH_PORT}   (docs /docs)")
            say(f"orders http://127.0.0.1:{ORDERS_PORT}   (docs /docs)")
            say("Ctrl-C stops everything")
            code = watch(procs)
        finally:
            say("stopping")
            STACK_ENV.unlink(missing_ok=True)
            stop(procs)
    return code


def main() -> int:
    try:
        return run()
    except StopRequestedError:
        say("stopped during start-up")
        return 0
    except Exception as exc:  # noqa: BLE001 - report (everything started is stopped), exit 1
        say(f"failed: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
