"""Boot each service the way its chart runs it, without a cluster.

For each service: render the chart with its default values, only the database (and Redis) URLs
pointed at the test servers; replay the Dockerfile into a local image folder; run the migration
hook Job's command with the Job's resolved environment; then run the image's CMD with the
Deployment container's resolved environment (image ENV overlaid by envFrom/env, as the kubelet
does) and call each probe at its path. The only departures from the pod: the server listens on
127.0.0.1 and a free port (other engineers share this machine), after checking that the probes'
port is the port the CMD binds.

Until the health endpoints of ARCHITECTURE.md section 6 exist, the startup and readiness probes
answer 404 here, and these tests say so.
"""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from servicekit.data.embedded import free_port
from tests.deploy.conftest import ImageFactory
from tests.support.backends import Backends, asyncpg_dsn, create_database, drop_database
from tests.support.dockerfile import EmulatedImage
from tests.support.k8s import container_env, container_port, containers, pod_spec, render

# Replays each Dockerfile and boots the image as its chart runs it.
pytestmark = pytest.mark.slow

SERVICES = ("auth", "orders")
PROBES = ("startupProbe", "livenessProbe", "readinessProbe")


@dataclass
class Booted:
    service: str
    port: int
    container: dict[str, Any]
    grace_seconds: int
    migration: subprocess.CompletedProcess[str]
    database_url: str
    process: subprocess.Popen[bytes]
    log: Path
    # Starts the Deployment's server again on a free port, logging to the given file.
    launch: Callable[[int, Path], subprocess.Popen[bytes]]

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def another(self, log: Path) -> Booted:
        """A second server of the same pod, for a test that stops it: the module's one stays
        up for the other tests whatever order they run in."""
        port = free_port()
        return dataclasses.replace(self, port=port, process=self.launch(port, log), log=log)


def _localized(cmd: list[str], port: int) -> list[str]:
    """The CMD with `--host 127.0.0.1 --port <free port>` instead of 0.0.0.0:8000."""
    out = list(cmd)
    out[out.index("--host") + 1] = "127.0.0.1"
    out[out.index("--port") + 1] = str(port)
    return out


def _process_env(image: EmulatedImage, container_env_: dict[str, str]) -> dict[str, str]:
    # A container gets no host environment: the image's ENV, the pod's env, and HOME.
    return image.runtime_env({"HOME": "/nonexistent", **container_env_})


@pytest.fixture(scope="module", params=SERVICES)
async def booted(
    request: pytest.FixtureRequest,
    backends: Backends,
    service_image: ImageFactory,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Booted]:
    service: str = request.param
    prefix = service.upper()
    database_url = await create_database(backends.postgres_url, f"test_boot_{service}")
    secrets: dict[str, str] = {"databaseUrl": database_url}
    if service == "orders":
        secrets["redisUrl"] = backends.redis_url
    rendered = render(service, {"secrets": secrets})
    image = service_image(service)
    workdir = image.host_path(image.workdir)

    # 1. the pre-install hook, as the Job runs it
    (job,) = [j for j in rendered.of_kind("Job") if "migrations" in j["metadata"]["name"]]
    (job_container,) = containers(job)
    job_env = _process_env(image, container_env(rendered, job_container))
    migration = await asyncio.to_thread(
        subprocess.run,
        image.resolve(job_container["command"], job_env),
        env=job_env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
    )

    # 2. the server, as the Deployment runs it
    spec = pod_spec(rendered.deployment())
    (container,) = spec["containers"]
    probe_port = container_port(container, container["startupProbe"]["httpGet"]["port"])
    assert image.cmd[image.cmd.index("--port") + 1] == str(probe_port)
    container_env_ = container_env(rendered, container)

    def launch(port: int, log: Path) -> subprocess.Popen[bytes]:
        env = {**container_env_, f"{prefix}_HOST": "127.0.0.1", f"{prefix}_PORT": str(port)}
        run_env = _process_env(image, env)
        with log.open("wb") as sink:
            return subprocess.Popen(
                image.resolve(_localized(image.cmd, port), run_env),
                env=run_env,
                cwd=workdir,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )

    port = free_port()
    log = tmp_path_factory.mktemp(f"boot-{service}") / "server.log"
    process = await asyncio.to_thread(launch, port, log)
    prestop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    booted = Booted(
        service=service,
        port=port,
        container=container,
        grace_seconds=spec["terminationGracePeriodSeconds"] - prestop,
        migration=migration,
        database_url=database_url,
        process=process,
        log=log,
        launch=launch,
    )
    try:
        yield booted
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        await drop_database(database_url)


def test_migration_hook_brings_the_database_to_head(booted: Booted) -> None:
    assert booted.migration.returncode == 0, booted.migration.stderr[-3000:]


async def test_migration_hook_recorded_its_revision(booted: Booted) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(booted.database_url))
    try:
        table = f"alembic_version_{booted.service}"
        assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 1  # noqa: S608 - fixed names
    finally:
        await conn.close()


def _wait_for_probe(booted: Booted, probe_name: str) -> httpx.Response:
    """Call the probe like the kubelet: every period, each call bounded by its timeout, until
    it passes or the failure budget is spent. A 404 can never pass: stop at once."""
    probe = booted.container[probe_name]
    path = probe["httpGet"]["path"]
    budget = probe["failureThreshold"] * probe["periodSeconds"]
    deadline = time.monotonic() + budget
    url = f"http://127.0.0.1:{booted.port}{path}"
    last: httpx.Response | None = None
    while time.monotonic() < deadline:
        if booted.process.poll() is not None:
            pytest.fail(
                f"{booted.service} exited ({booted.process.returncode}):\n{booted.log_tail()}"
            )
        try:
            last = httpx.get(url, timeout=probe["timeoutSeconds"])
        except httpx.TransportError:
            time.sleep(0.1)
            continue
        if last.status_code == 200 or last.status_code in (404, 405):
            return last
        time.sleep(0.2)
    if last is None:
        pytest.fail(
            f"{booted.service} never answered {path} within {budget}s:\n{booted.log_tail()}"
        )
    return last


@pytest.mark.parametrize("probe", PROBES)
def test_probe_answers_200_at_its_port_and_path(booted: Booted, probe: str) -> None:
    # Kubernetes runs liveness and readiness only once the startup probe passed.
    if probe != "startupProbe":
        startup = _wait_for_probe(booted, "startupProbe")
        assert startup.status_code == 200, (
            f"startup {booted.container['startupProbe']['httpGet']['path']} answered "
            f"{startup.status_code}"
        )
    response = _wait_for_probe(booted, probe)
    path = booted.container[probe]["httpGet"]["path"]
    assert response.status_code == 200, f"{booted.service} {path} answered {response.status_code}"


def test_sigterm_stops_within_the_grace_period(booted: Booted, tmp_path: Path) -> None:
    """After preStop, the kubelet sends SIGTERM and waits the rest of the grace period."""
    own = booted.another(tmp_path / "server.log")
    try:
        startup = _wait_for_probe(own, "startupProbe")
        assert startup.status_code == 200, own.log_tail()
        own.process.send_signal(signal.SIGTERM)
        try:
            code = own.process.wait(timeout=own.grace_seconds)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running {own.grace_seconds}s after SIGTERM:\n{own.log_tail()}")
        assert code == 0, f"exit code {code}:\n{own.log_tail()}"
    finally:
        if own.process.poll() is None:
            own.process.kill()
            own.process.wait()


def test_the_shared_server_outlives_the_sigterm_test(booted: Booted) -> None:
    """Whatever ran before (pytest-randomly shuffles), the module's server is still up."""
    assert booted.process.poll() is None, booted.log_tail()
