"""`make run` as a user runs it: started by make (through `uv run`), stopped by signals to its
process group, on embedded servers or on given URLs, with the CLIs finding the running stack.

Every test starts `make run` itself on free ports with its own data folder; the checks that
need only a running stack share one (module fixture), since each start costs seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import pytest

from servicekit.data.embedded import EmbeddedRedis, free_port
from tests.support.backends import Backends, create_database, drop_database
from tests.support.processes import REPO_ROOT

# Bounds, not sleeps: a loaded 2-core machine starts the stack in ~10-20 s.
START_TIMEOUT_S = 120
STOP_TIMEOUT_S = 60
READY_LINE = "[stack] Ctrl-C stops everything"


@dataclass
class MakeRun:
    """`make run` in a process group of its own, as a shell starts a foreground job."""

    data_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    auth_port: int = field(default_factory=free_port)
    orders_port: int = field(default_factory=free_port)
    lines: list[str] = field(default_factory=list)
    process: subprocess.Popen[str] | None = None
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def start(self) -> MakeRun:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AUTH_", "ORDERS_", "TEST_", "STACK_"))
        }
        env |= {
            "STACK_DATA_DIR": str(self.data_dir),
            "AUTH_PORT": str(self.auth_port),
            "ORDERS_PORT": str(self.orders_port),
            **self.extra_env,
        }
        self.process = subprocess.Popen(
            ["make", "--no-print-directory", "run"],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own group, which the signals below go to
        )
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self) -> None:
        assert self.process is not None
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, text: str, timeout_s: float = START_TIMEOUT_S) -> None:
        assert self.process is not None

        def seen() -> bool:
            return any(text in line for line in self.lines) or self.process.poll() is not None  # type: ignore[union-attr]

        with self._changed:
            self._changed.wait_for(seen, timeout=timeout_s)
        assert any(text in line for line in self.lines), f"no {text!r} in:\n{self.output}"

    def descendants(self) -> list[psutil.Process]:
        """Every process `make run` started, the postmaster included (pg_ctl detaches it)."""
        assert self.process is not None
        found: list[psutil.Process] = psutil.Process(self.process.pid).children(recursive=True)
        pid_file = self.data_dir / "postgres" / "postmaster.pid"
        if pid_file.exists():
            found.append(psutil.Process(int(pid_file.read_text().split("\n", 1)[0])))
        return found

    def signal_group(self, signum: int) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signum)

    def wait(self, timeout_s: float = STOP_TIMEOUT_S) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout_s)


def _running(processes: list[psutil.Process], *, wait_s: float = 10) -> list[str]:
    """Those of `processes` still running after `wait_s` (zombies have exited: not counted)."""
    deadline = time.monotonic() + wait_s
    while True:
        alive = []
        for proc in processes:
            try:
                if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                    alive.append(" ".join(proc.cmdline()))
            except psutil.NoSuchProcess:
                pass
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def _stop_and_check(stack: MakeRun, signum: int, *, started_at_least: int = 6) -> None:
    started = stack.descendants()
    # Up: uv, the script, Redis, auth, orders and the postmaster.
    assert len(started) >= started_at_least, [p.cmdline() for p in started]
    stack.signal_group(signum)
    stack.wait()
    assert _running(started) == [], stack.output
    assert "subscription lost" not in stack.output
    assert "Traceback" not in stack.output
    assert not (stack.data_dir / "stack.env").exists()


def _login(base: str, username: str, password: str) -> httpx.Response:
    return httpx.post(
        f"{base}/oauth/token",
        data={"grant_type": "password", "username": username, "password": password},
        timeout=30,
    )


def _cli(
    tool: str, *args: str, data_dir: Path, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """A console script as a user types it: no URL, no key in the environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTH_", "ORDERS_", "TEST_"))}
    env["STACK_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [str(REPO_ROOT / ".venv" / "bin" / tool), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=data_dir.parent,
        timeout=120,
    )


@contextlib.contextmanager
def _traversable_dir() -> Iterator[Path]:
    """A folder the embedded PostgreSQL's own user can always reach.

    Not under pytest's temp root: any pytest session starting on the machine resets
    /tmp/pytest-of-<user> to 0700, and pg_ctl, running as that user, then cannot see the
    server it is waiting for.
    """
    path = Path(tempfile.mkdtemp(prefix="run-stack-"))
    path.chmod(0o711)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def stack_dir() -> Iterator[Path]:
    with _traversable_dir() as path:
        yield path


@pytest.fixture(scope="module")
def stack() -> Iterator[MakeRun]:
    """One `make run` on embedded servers, shared by the checks that only need it up."""
    with _traversable_dir() as path:
        yield from _running_stack(path / "data")


def _running_stack(data_dir: Path) -> Iterator[MakeRun]:
    running = MakeRun(data_dir).start()
    try:
        running.wait_for_line(READY_LINE)
        yield running
    finally:
        _stop_and_check(running, signal.SIGINT)


def test_a_second_make_run_on_the_same_folder_refuses_and_leaves_the_first_alone(
    stack: MakeRun,
) -> None:
    """Run twice by mistake (a second terminal): the second says so in one line and exits 1;
    it used to stop the first stack's PostgreSQL, which then answered 503."""
    second = MakeRun(stack.data_dir).start()
    assert second.process is not None
    second.wait_for_line("another `make run` is using")
    assert second.process.wait(timeout=START_TIMEOUT_S) != 0
    assert any("another `make run` is using" in line for line in second.lines), second.output
    assert "embedded PostgreSQL on" not in second.output
    ready = httpx.get(f"http://127.0.0.1:{stack.orders_port}/health/ready", timeout=5)
    assert ready.status_code == 200, ready.text
    assert (stack.data_dir / "stack.env").exists()


def test_cli_finds_the_running_embedded_stack(stack: MakeRun) -> None:
    env_file = stack.data_dir / "stack.env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert "AUTH_KEY_ENCRYPTION_KEY=" not in env_file.read_text()  # its file, not the key
    base = f"http://127.0.0.1:{stack.auth_port}"

    made = _cli(
        "auth-service",
        *("users", "create", "--email", "cli@example.com", "--role", "editor"),
        *("--tenant", "default"),
        data_dir=stack.data_dir,
        stdin="cli-password-123\n",
    )
    assert made.returncode == 0, made.stderr
    assert _login(base, "cli@example.com", "cli-password-123").status_code == 200

    rotated = _cli("auth-service", "keys", "rotate", "--force", data_dir=stack.data_dir)
    assert rotated.returncode == 0, rotated.stderr
    # The CLI reached the stack's key set with the stack's key-encryption key: each purpose
    # rotated, or (a fresh stack) waits until its `next` key has been published for the JWKS
    # max-age, which even --force respects. A wrong key-encryption key would be "refused".
    actions = re.findall(r"^(access|refresh): (\S+)", rotated.stdout, re.M)
    assert {purpose for purpose, _ in actions} == {"access", "refresh"}, rotated.stdout
    assert {action for _, action in actions} <= {"rotated", "waiting"}, rotated.stdout

    warmed = _cli("orders-service", "cache", "warm", data_dir=stack.data_dir)
    assert warmed.returncode == 0, warmed.stderr


def test_set_password_recovers_a_lost_admin_password(stack: MakeRun) -> None:
    base = f"http://127.0.0.1:{stack.auth_port}"
    printed = re.search(r"password=(\S+)", stack.output)
    assert printed is not None, stack.output
    assert _login(base, "admin@example.com", printed.group(1)).status_code == 200

    reset = _cli(
        "auth-service",
        *("users", "set-password", "--email", "admin@example.com"),
        data_dir=stack.data_dir,
        stdin="recovered-password-1\n",
    )
    assert reset.returncode == 0, reset.stderr
    assert "recovered-password-1" not in reset.stdout + reset.stderr
    assert _login(base, "admin@example.com", "recovered-password-1").status_code == 200
    assert _login(base, "admin@example.com", printed.group(1)).status_code != 200


def test_accented_names_are_found_ignoring_case_and_accents(stack: MakeRun) -> None:
    user = f"search-{stack.orders_port}@example.com"
    made = _cli(
        "auth-service",
        *("users", "create", "--email", user, "--role", "editor", "--tenant", "search"),
        data_dir=stack.data_dir,
        stdin="search-password-1\n",
    )
    assert made.returncode == 0, made.stderr
    token = _login(f"http://127.0.0.1:{stack.auth_port}", user, "search-password-1").json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    orders = httpx.Client(base_url=f"http://127.0.0.1:{stack.orders_port}", headers=headers)
    for sku, name in (("QUILT-1", "Édredon"), ("MUG-1", "Mug")):
        created = orders.post(
            "/api/v1/items",
            json={
                "sku": sku,
                "name": name,
                "description": "",
                "price": {"amount": "10.00", "currency": "BRL"},
                "category": "home",
                "tags": [],
                "quantity": 1,
            },
        )
        assert created.status_code == 201, created.text
    # Accent-insensitive by decision (ADR 0004): `edredon` finds it too.
    for query in ("Édredon", "édredon", "ÉDREDON", "edredon", "dRéD"):
        found = orders.get("/api/v1/items", params={"q": query})
        assert found.status_code == 200, found.text
        assert [i["name"] for i in found.json()["items"]] == ["Édredon"], query


# Six starts of the whole stack: 8-12 s each on a quiet 2-core machine, 29-40 s at load 13.
# (Ten, until the suite outgrew its 10-minute budget: this test alone took 83-119 s of it.)
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_six_stops_in_a_row_by_sigint_and_sigterm_to_the_group_leave_nothing(
    stack_dir: Path,
) -> None:
    """Alternating Ctrl-C (SIGINT to the group, as a terminal sends it) and SIGTERM to the group
    (a process manager, `kill -- -PGID`); four once the stack is up (each signal twice), two
    during start-up (one each)."""
    moments = [READY_LINE] * 4 + ["[stack] embedded Redis on", "[stack] migrating"]
    for attempt, moment in enumerate(moments):
        stack = MakeRun(stack_dir / "data").start()
        stack.wait_for_line(moment)
        up = moment == READY_LINE
        _stop_and_check(
            stack,
            signal.SIGINT if attempt % 2 == 0 else signal.SIGTERM,
            started_at_least=6 if up else 2,
        )
        if not up:
            assert READY_LINE not in stack.output, f"stop {attempt} came too late"


def test_cli_without_a_stack_says_so_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    for tool, args in (("auth-service", ["keys", "list"]), ("orders-service", ["cache", "warm"])):
        result = _cli(tool, *args, data_dir=tmp_path / "data")
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "make run" in result.stderr


def test_own_urls_on_a_fresh_checkout_and_a_crashed_service_fails_make_run(
    stack_dir: Path, backends: Backends
) -> None:
    """No .data/ yet and the user's own servers: the key file and stack.env still get a home.
    Then orders dies on its own: make run stops the rest and exits non-zero."""

    async def databases() -> tuple[str, str]:
        return (
            await create_database(backends.postgres_url, "runstack_auth"),
            await create_database(backends.postgres_url, "runstack_orders"),
        )

    auth_url, orders_url = asyncio.run(databases())
    data = stack_dir / "fresh-checkout" / ".data"
    try:
        with EmbeddedRedis(stack_dir / "redis", persist=False) as redis:
            stack = MakeRun(
                data,
                extra_env={
                    "AUTH_DATABASE_URL": auth_url,
                    "ORDERS_DATABASE_URL": orders_url,
                    "ORDERS_REDIS_URL": redis.url(),
                },
            ).start()
            stack.wait_for_line(READY_LINE)
            assert "no embedded servers" in stack.output
            assert (data / "auth-key-encryption-key").exists()
            assert f"ORDERS_DATABASE_URL={orders_url}" in (data / "stack.env").read_text()

            started = stack.descendants()
            port = f"--port {stack.orders_port}"
            next(p for p in started if port in " ".join(p.cmdline())).kill()
            assert stack.wait() != 0
            assert "a service exited" in stack.output
            assert _running(started) == [], stack.output
            assert not (data / "stack.env").exists()
    finally:
        for url in (auth_url, orders_url):
            asyncio.run(drop_database(url))
