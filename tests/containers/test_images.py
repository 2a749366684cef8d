"""Both images, run as the charts run them, in a real engine, next to each other.

One user-defined network per module with PostgreSQL and Redis from the local Debian-built
images (the charts' stack chart's init script makes the roles and databases). Each service runs
its chart's migration Job command, then its Deployment container: the rendered pod's env, user,
read-only root, dropped capabilities, no privilege escalation, limits, tmpfs for the emptyDir,
and the network alias of its Service name, so the chart's default URLs (orders fetches
http://auth:8000/.well-known/jwks.json) resolve from container to container. Only the port is
published, to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.containers.conftest import IMAGE_SIZES
from tests.containers.engine import POSTGRES_IMAGE, REDIS_IMAGE, SERVICE_IMAGES, Engine
from tests.containers.podspec import cpus, memory_bytes, run_flags
from tests.support.dockerfile import REPO_ROOT
from tests.support.k8s import container_env, containers, pod_spec, render

SERVICES = ("auth", "orders")
INIT_SCRIPT = REPO_ROOT / "charts" / "stack" / "files" / "init-databases.sh"
# A built image above this is a regression (a toolchain or cache left in the final stage).
MAX_IMAGE_BYTES = 400 * 1000 * 1000
IN_FLIGHT = 20


@dataclass
class Service:
    name: str  # auth | orders
    container: str
    pod: dict[str, Any]
    spec: dict[str, Any]  # the Deployment's container
    env: dict[str, str]
    migration: dict[str, Any] = field(default_factory=dict)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Stack:
    engine: Engine
    prefix: str
    network: str
    folder: Path
    services: dict[str, Service] = field(default_factory=dict)

    def start(self, service: Service, *, container: str | None = None) -> Service:
        """`docker run` the Deployment's container; wait for its startup probe."""
        name = container or service.container
        env_file = self.folder / f"{name}.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in service.env.items()))
        self.engine.run(
            "run",
            "--detach",
            "--name",
            name,
            "--network",
            self.network,
            "--network-alias",
            service.name,
            "--env-file",
            str(env_file),
            "--publish",
            "127.0.0.1::8000",
            *run_flags(service.pod, service.spec),
            SERVICE_IMAGES[service.name],
        )
        started = Service(service.name, name, service.pod, service.spec, service.env)
        started.migration = service.migration
        started.port = self.engine.published_port(name, 8000)
        probe = service.spec["startupProbe"]
        wait_for_http(
            self.engine,
            started,
            probe["httpGet"]["path"],
            probe["failureThreshold"] * probe["periodSeconds"],
        )
        return started


def wait_for_http(engine: Engine, service: Service, path: str, budget_s: float) -> None:
    deadline = time.monotonic() + budget_s
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            response = httpx.get(service.url + path, timeout=2)
        except httpx.TransportError as exc:
            last = repr(exc)
        else:
            if response.status_code == 200:
                return
            last = f"{response.status_code} {response.text[:300]}"
        if not engine.inspect(service.container)["State"]["Running"]:
            break
        time.sleep(0.3)
    pytest.fail(f"{service.container} {path}: {last}\n{engine.logs(service.container)}")


def _run_backing_servers(stack: Stack, passwords: dict[str, str]) -> tuple[str, str]:
    engine, prefix = stack.engine, stack.prefix
    env_file = stack.folder / "postgres.env"
    env_file.write_text(
        f"POSTGRES_PASSWORD={passwords['postgres']}\n"
        "APP_DATABASES=auth orders\n"
        f"AUTH_DB_PASSWORD={passwords['auth']}\n"
        f"ORDERS_DB_PASSWORD={passwords['orders']}\n"
    )
    postgres, redis = f"{prefix}-postgres", f"{prefix}-redis"
    engine.run(
        "run",
        "--detach",
        "--name",
        postgres,
        "--network",
        stack.network,
        "--network-alias",
        "postgres",
        "--env-file",
        str(env_file),
        "--volume",
        f"{INIT_SCRIPT}:/docker-entrypoint-initdb.d/10-init-databases.sh:ro",
        POSTGRES_IMAGE,
    )
    engine.run(
        "run",
        "--detach",
        "--name",
        redis,
        "--network",
        stack.network,
        "--network-alias",
        "redis",
        REDIS_IMAGE,
    )
    # TCP readiness comes only after the init scripts ran (they use a socket-only server).
    engine.wait_exec(postgres, ["pg_isready", "-h", "127.0.0.1", "-U", "postgres"], 120)
    engine.wait_exec(redis, ["redis-cli", "ping"], 60)
    return postgres, redis


def _prepare(stack: Stack, passwords: dict[str, str]) -> None:
    for name in SERVICES:
        secret_values = {
            "databaseUrl": f"postgresql://{name}:{passwords[name]}@postgres:5432/{name}",
        }
        if name == "orders":
            secret_values["redisUrl"] = "redis://redis:6379/0"
        rendered = render(name, {"secrets": secret_values})
        pod = pod_spec(rendered.deployment())
        (spec,) = pod["containers"]
        service = Service(name, f"{stack.prefix}-{name}", pod, spec, container_env(rendered, spec))
        (job,) = [j for j in rendered.of_kind("Job") if "migrations" in j["metadata"]["name"]]
        (job_container,) = containers(job)
        job_env_file = stack.folder / f"{name}-migrate.env"
        job_env = container_env(rendered, job_container)
        job_env_file.write_text("".join(f"{k}={v}\n" for k, v in job_env.items()))
        result = stack.engine.run(
            "run",
            "--rm",
            "--name",
            f"{stack.prefix}-{name}-migrate",
            "--network",
            stack.network,
            "--env-file",
            str(job_env_file),
            *run_flags(pod_spec(job), job_container),
            SERVICE_IMAGES[name],
            *job_container["command"],
            check=False,
            timeout=180,
        )
        service.migration = {
            "returncode": result.returncode,
            "output": (result.stdout + result.stderr)[-3000:],
        }
        stack.services[name] = service


@pytest.fixture(scope="module")
def stack(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    prefix = f"ct-{uuid.uuid4().hex[:8]}"
    network = f"{prefix}-net"
    engine.run("network", "create", network)
    stack = Stack(engine, prefix, network, tmp_path_factory.mktemp("containers"))
    passwords = {name: secrets.token_urlsafe(18) for name in ("postgres", *SERVICES)}
    try:
        _run_backing_servers(stack, passwords)
        _prepare(stack, passwords)
        for name in SERVICES:  # auth first: orders' readiness needs its JWKS
            if stack.services[name].migration["returncode"] == 0:
                stack.services[name] = stack.start(stack.services[name])
        yield stack
    finally:
        names = engine.run(
            "ps", "--all", "--quiet", "--filter", f"name={prefix}-", check=False
        ).stdout.split()
        if names:
            engine.run("rm", "--force", "--volumes", *names, check=False, timeout=120)
        engine.run("network", "rm", network, check=False)


@pytest.mark.parametrize("service", SERVICES)
def test_migration_job_runs_in_the_image(stack: Stack, service: str) -> None:
    migration = stack.services[service].migration
    assert migration["returncode"] == 0, migration["output"]


@pytest.mark.parametrize("service", SERVICES)
def test_runs_with_the_charts_user_read_only_root_no_capabilities_and_limits(
    stack: Stack, service: str
) -> None:
    running = stack.services[service]
    info = stack.engine.inspect(running.container)
    host = info["HostConfig"]
    security = running.spec["securityContext"]
    limits = running.spec["resources"]["limits"]
    assert info["Config"]["User"] == f"{security['runAsUser']}:{security['runAsGroup']}"
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["Memory"] == memory_bytes(limits["memory"])
    assert host["NanoCpus"] == int(cpus(limits["cpu"]) * 1_000_000_000)
    # and from inside: the process's ids, its capability sets, the read-only root
    probe = stack.engine.run(
        "exec",
        running.container,
        "python",
        "-c",
        "import os, re; s = open('/proc/1/status').read(); "
        "print(os.getuid(), os.getgid(), *re.findall(r'Cap(?:Eff|Prm|Bnd):\\s+(\\S+)', s), "
        "re.search(r'NoNewPrivs:\\s+(\\d)', s).group(1))",
    ).stdout.split()
    assert probe == ["10001", "10001", *["0000000000000000"] * 3, "1"], probe
    write = stack.engine.run("exec", running.container, "touch", "/app/x", check=False)
    assert write.returncode != 0
    assert "Read-only file system" in write.stderr
    scratch = stack.engine.run("exec", running.container, "touch", "/tmp/x", check=False)
    assert scratch.returncode == 0, "the emptyDir at /tmp is writable"


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("probe", ["startupProbe", "livenessProbe", "readinessProbe"])
def test_probes_pass(stack: Stack, service: str, probe: str) -> None:
    running = stack.services[service]
    spec = running.spec[probe]
    response = httpx.get(running.url + spec["httpGet"]["path"], timeout=spec["timeoutSeconds"])
    assert response.status_code == 200, response.text


def _token(stack: Stack, email: str, role: str = "editor") -> str:
    """A user made with the image's own CLI, then a token from auth's published port."""
    auth = stack.services["auth"]
    password = secrets.token_urlsafe(16)
    stack.engine.run(
        "exec",
        "--interactive",
        auth.container,
        "auth-service",
        "users",
        "create",
        "--email",
        email,
        "--role",
        role,
        "--tenant",
        "acme",
        stdin=password + "\n",
    )
    response = httpx.post(
        auth.url + "/oauth/token",
        data={"grant_type": "password", "username": email, "password": password},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    assert isinstance(token, str)
    return token


def _item(sku: str) -> dict[str, Any]:
    return {
        "sku": sku,
        "name": "Mug",
        "description": "A mug",
        "price": {"amount": "12.50", "currency": "BRL"},
        "category": "kitchen",
        "tags": ["ceramic"],
        "quantity": 3,
    }


def test_orders_verifies_auths_tokens_across_containers(stack: Stack) -> None:
    """orders has only the JWKS URL of the chart (http://auth:8000/...): the token auth signed
    is accepted because orders fetched auth's keys from the auth container by name."""
    orders = stack.services["orders"]
    headers = {"Authorization": f"Bearer {_token(stack, 'tour@example.com')}"}
    created = httpx.post(
        orders.url + "/api/v1/items", json=_item("MUG-TOUR"), headers=headers, timeout=10
    )
    assert created.status_code == 201, created.text
    listed = httpx.get(
        orders.url + "/api/v1/items", params={"category": "kitchen"}, headers=headers, timeout=10
    )
    assert listed.status_code == 200, listed.text
    assert "MUG-TOUR" in listed.text
    forged = httpx.get(
        orders.url + "/api/v1/items", headers={"Authorization": "Bearer x.y.z"}, timeout=10
    )
    assert forged.status_code == 401


async def _in_flight(client: httpx.AsyncClient, url: str) -> float:
    text = (await client.get(url + "/metrics", timeout=5)).text
    values = re.findall(r"^http_requests_in_flight(?:\{[^}]*\})? (\S+)$", text, re.MULTILINE)
    return sum(float(v) for v in values)


async def _half_sent_requests(port: int, token: str, count: int) -> list[Any]:
    """`count` POSTs whose headers and half a body are sent: the app holds each one, waiting
    for the rest of its body, so all are in flight at once."""
    opened = []
    for n in range(count):
        body = json.dumps(_item(f"DRAIN-{n}")).encode()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head = (
            f"POST /api/v1/items HTTP/1.1\r\nHost: orders\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        half = len(body) // 2
        writer.write(head + body[:half])
        await writer.drain()
        opened.append((reader, writer, body[half:]))
    return opened


async def _finish(opened: list[Any]) -> list[int]:
    async def one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, rest: bytes) -> int:
        writer.write(rest)
        await writer.drain()
        status_line = await reader.readline()
        writer.close()
        return int(status_line.split()[1])

    return await asyncio.gather(*(one(*entry) for entry in opened))


async def test_docker_stop_drains_requests_in_flight_and_exits_0(stack: Stack) -> None:
    """A container of its own (the shared one keeps serving the other tests): 20 requests in
    flight, `docker stop`, readiness turns 503, the requests complete with 201, exit code 0
    within the pod's grace period."""
    base = stack.services["orders"]
    token = _token(stack, "drain@example.com")
    orders = stack.start(base, container=f"{stack.prefix}-orders-drain")
    grace_s = int(orders.pod["terminationGracePeriodSeconds"])
    client = httpx.AsyncClient()
    opened = await _half_sent_requests(orders.port, token, IN_FLIGHT)
    deadline = time.monotonic() + 30
    # the metrics request counts itself: more than 20 means all of ours are in the app
    while (in_flight := await _in_flight(client, orders.url)) <= IN_FLIGHT:
        assert time.monotonic() < deadline, f"in flight: {in_flight}"
        await asyncio.sleep(0.1)

    stopped = threading.Event()

    def stop() -> None:
        stack.engine.run("stop", "--time", str(grace_s), orders.container, timeout=grace_s + 30)
        stopped.set()

    stopper = threading.Thread(target=stop)
    stopper.start()
    deadline = time.monotonic() + 10
    while True:  # SIGTERM arrived: the drain window answers 503 on readiness, and serves on
        ready = await client.get(orders.url + "/health/ready", timeout=2)
        if ready.status_code == 503:
            break
        assert time.monotonic() < deadline, "readiness never turned 503 after docker stop"
        await asyncio.sleep(0.1)
    assert not stopped.is_set()
    statuses = await _finish(opened)
    await client.aclose()
    await asyncio.to_thread(stopper.join, grace_s + 60)
    assert statuses == [201] * IN_FLIGHT
    assert stopped.is_set()
    state = stack.engine.inspect(orders.container)["State"]
    assert state["ExitCode"] == 0, stack.engine.logs(orders.container)
    assert state["OOMKilled"] is False


@pytest.mark.parametrize("service", SERVICES)
def test_image_size_is_reported_and_bounded(engine: Engine, service: str) -> None:
    image = SERVICE_IMAGES[service]
    size = engine.image_size(image)
    IMAGE_SIZES[image] = size  # printed in the terminal summary (tests/containers/conftest.py)
    assert size < MAX_IMAGE_BYTES
