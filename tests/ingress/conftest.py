"""The stack behind an ingress, started once per module: nginx configured from the charts'
Ingress objects (production values) in front of two auth and two orders replicas, each a real
`servicekit` server process (what `auth-service serve` / `orders-service serve` run), on
databases of their own."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import pytest
import redis
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from auth_service.clients.schemas import ClientCreate
from auth_service.clients.service import ClientService
from servicekit.core.settings import normalize_database_url
from servicekit.data.embedded import free_port
from servicekit.data.migrations import upgrade_head
from tests.support.auth_app import AUDIENCE, ISSUER, KEK_B64, fresh_auth_database
from tests.support.backends import Backends, create_database, drop_database
from tests.support.k8s import rendered_case
from tests.support.nginx import Nginx, Route, ingress_routes, render_config
from tests.support.processes import REPO_ROOT, ServiceProcess

AUTH_APP = "auth_service.main:create_app"
ORDERS_APP = "orders_service.main:create_app"
REPLICAS = 2

# Settings of the replicas that the tests derive their deadlines and budgets from.
JWKS_MAX_AGE_S = 10  # the smallest auth accepts: a rotation waits this long for its next key
KEY_RELOAD_INTERVAL_S = 0.5
DRAIN_WINDOW_S = 1.0
TOKEN_BURST_PER_IP = 100  # per replica (auth keeps its token budgets in memory)
# A replica starts in ~5 s on an idle 2-core machine; far more when others share the cores.
START_TIMEOUT_S = 300


@dataclass(repr=False)
class IngressStack:
    nginx: Nginx
    routes: list[Route]
    auth: list[ServiceProcess]
    orders: list[ServiceProcess]
    auth_env: dict[str, str]
    auth_host: str
    api_host: str
    auth_service: str
    orders_service: str
    client_id: str
    client_secret: str = field(repr=False)
    service_ports: dict[str, int] = field(default_factory=dict)
    generation: int = 1

    def endpoints(self, without: ServiceProcess | None = None) -> dict[str, list[int]]:
        """Each Service's endpoints: its replicas, less one that is being taken out."""
        return {
            self.auth_service: [p.port for p in self.auth if p is not without],
            self.orders_service: [p.port for p in self.orders if p is not without],
        }

    def publish_endpoints(self, without: ServiceProcess | None = None) -> None:
        """What the endpoints controller and ingress-nginx do when a pod stops or starts being
        an endpoint: the proxy's upstreams change, and no new request goes to a pod that left."""
        self.generation += 1
        config = render_config(
            self.routes,
            self.endpoints(without),
            listen_port=self.nginx.port,
            service_ports=self.service_ports,
            prefix=self.nginx.prefix,
            generation=self.generation,
        )
        self.nginx.reload(config, self.generation)

    def client(self, source_ip: str, *, limits: httpx.Limits | None = None) -> httpx.Client:
        """A client of the ingress connecting from its own loopback address (127.0.0.0/8 is all
        local on Linux): to nginx, as to an ingress controller, a different peer."""
        transport = httpx.HTTPTransport(local_address=source_ip, limits=limits or httpx.Limits())
        return httpx.Client(base_url=self.nginx.url, transport=transport, timeout=30)

    def cli(self, *args: str) -> str:
        """`auth-service ...` with the replicas' environment."""
        return auth_cli(self.auth_env, *args)


def auth_cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "auth_service.cli", *args],
        env={**os.environ, **env},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=240,  # an interpreter start takes long on a loaded machine
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _auth_env(database_url: str) -> dict[str, str]:
    return {
        "AUTH_DATABASE_URL": database_url,
        "AUTH_KEY_ENCRYPTION_KEY": KEK_B64,
        "AUTH_ENVIRONMENT": "test",
        "AUTH_LOG_LEVEL": "WARNING",
        "AUTH_ISSUER": ISSUER,
        "AUTH_AUDIENCE": AUDIENCE,
        "AUTH_PASSWORD_HASH_MEMORY_KIB": "8192",
        "AUTH_PASSWORD_HASH_TIME_COST": "1",
        "AUTH_JWKS_MAX_AGE_S": str(JWKS_MAX_AGE_S),
        "AUTH_KEY_RELOAD_INTERVAL_S": str(KEY_RELOAD_INTERVAL_S),
        "AUTH_DRAIN_WINDOW_S": str(DRAIN_WINDOW_S),
        "AUTH_TOKEN_BURST_PER_IP": str(TOKEN_BURST_PER_IP),
        "AUTH_TOKEN_REQUESTS_PER_IP_PER_MINUTE": str(TOKEN_BURST_PER_IP),
        "AUTH_TOKEN_BURST_PER_IDENTITY": "1000000",
        "AUTH_TOKEN_REQUESTS_PER_IDENTITY_PER_MINUTE": "1000000",
        # Trust X-Forwarded-For from the proxy only (nginx connects from 127.0.0.1; clients
        # come from other loopback addresses). uvicorn reads FORWARDED_ALLOW_IPS; auth's own
        # setting (issue 12) is AUTH_FORWARDED_ALLOW_IPS.
        "FORWARDED_ALLOW_IPS": "127.0.0.1",
        "AUTH_FORWARDED_ALLOW_IPS": "127.0.0.1",
    }


def _orders_env(database_url: str, redis_url: str, jwks_url: str, prefix: str) -> dict[str, str]:
    return {
        "ORDERS_DATABASE_URL": database_url,
        "ORDERS_REDIS_URL": redis_url,
        "ORDERS_JWKS_URL": jwks_url,
        "ORDERS_JWT_ISSUER": ISSUER,
        "ORDERS_JWT_AUDIENCE": AUDIENCE,
        "ORDERS_ENVIRONMENT": "test",
        "ORDERS_LOG_LEVEL": "WARNING",
        "ORDERS_DRAIN_WINDOW_S": str(DRAIN_WINDOW_S),
        "ORDERS_CACHE_NAMESPACE": prefix + "cache:",
        "ORDERS_IDEMPOTENCY_NAMESPACE": prefix + "idem:",
        "FORWARDED_ALLOW_IPS": "127.0.0.1",
    }


def in_parallel(*work: Callable[[], object]) -> list[object]:
    """Run blocking starts side by side (each waits for its own readiness); re-raise the first
    error. Starting processes is most of this tier's time."""
    results: list[object] = [None] * len(work)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            results[i] = work[i]()
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def _ready(proc: ServiceProcess) -> Callable[[], object]:
    return lambda: proc.start(ready_path="/health/ready", timeout_s=START_TIMEOUT_S)


def _only(routes: list[Route], service: str) -> str:
    hosts = {r.host for r in routes if r.service == service}
    assert len(hosts) == 1, hosts
    return hosts.pop()


def _service_name(chart: str) -> str:
    (service,) = rendered_case(chart, "production").of_kind("Service")
    return str(service["metadata"]["name"])


@pytest.fixture(scope="module")
async def orders_database(backends: Backends) -> AsyncIterator[str]:
    url = await create_database(backends.postgres_url, "test_ingress_orders")
    try:
        await asyncio.to_thread(upgrade_head, "orders", url)
        yield url
    finally:
        await drop_database(url)


@pytest.fixture(scope="module")
async def auth_database(backends: Backends) -> AsyncIterator[str]:
    async with fresh_auth_database(backends.postgres_url) as url:
        yield url


@pytest.fixture(scope="module")
async def service_client(auth_database: str) -> tuple[str, str]:
    """A service client (id, secret) of tenant acme with role editor, made in this process
    through auth's service layer: one interpreter start fewer than `auth-service clients
    create`, and the start of processes is what this tier waits on."""
    engine = create_async_engine(normalize_database_url(auth_database))
    try:
        async with async_sessionmaker(engine, expire_on_commit=False).begin() as session:
            client, secret = await ClientService(session, tenant_id="acme").create(
                ClientCreate(name="ingress-tests", roles=["editor"]), now=datetime.now(UTC)
            )
    finally:
        await engine.dispose()
    return client.client_id, secret


@pytest.fixture(scope="module")
def redis_prefix(backends: Backends) -> Iterator[str]:
    prefix = f"test:{uuid.uuid4().hex[:12]}:ingress:"
    yield prefix
    client = redis.Redis.from_url(backends.redis_url)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(scope="module")
def stack(
    backends: Backends,
    auth_database: str,
    orders_database: str,
    redis_prefix: str,
    service_client: tuple[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[IngressStack]:
    root = tmp_path_factory.mktemp("ingress")
    manifests = [
        m for chart in ("auth", "orders") for m in rendered_case(chart, "production").manifests
    ]
    routes = ingress_routes(manifests)
    auth_service, orders_service = _service_name("auth"), _service_name("orders")
    nginx = Nginx(root / "nginx")
    # The Services' cluster addresses: orders fetches auth's JWKS through auth's.
    service_ports = {auth_service: free_port(), orders_service: free_port()}
    auth_env = _auth_env(auth_database)
    auth = [ServiceProcess(AUTH_APP, auth_env, root / f"auth-{i}.log") for i in range(REPLICAS)]
    jwks_url = f"http://127.0.0.1:{service_ports[auth_service]}/.well-known/jwks.json"
    orders_env = _orders_env(orders_database, backends.redis_url, jwks_url, redis_prefix)
    orders = [
        ServiceProcess(ORDERS_APP, orders_env, root / f"orders-{i}.log") for i in range(REPLICAS)
    ]
    config = render_config(
        routes,
        {auth_service: [p.port for p in auth], orders_service: [p.port for p in orders]},
        listen_port=nginx.port,
        service_ports=service_ports,
        prefix=nginx.prefix,
    )
    try:
        # nginx first (orders reaches auth's JWKS through it); the replicas may start in any
        # order: auth replicas agree on one key set, orders fetches the JWKS at its first token.
        nginx.start(config)
        in_parallel(*(_ready(p) for p in [*auth, *orders]))
        yield IngressStack(
            nginx=nginx,
            routes=routes,
            auth=auth,
            orders=orders,
            auth_env=auth_env,
            auth_host=_only(routes, auth_service),
            api_host=_only(routes, orders_service),
            auth_service=auth_service,
            orders_service=orders_service,
            client_id=service_client[0],
            client_secret=service_client[1],
            service_ports=service_ports,
        )
    finally:
        in_parallel(*(proc.stop for proc in [*orders, *auth]))  # each drains for its window
        nginx.stop()
