"""Where the tests' PostgreSQL and Redis come from, in order of preference.

1. TEST_DATABASE_URL / TEST_REDIS_URL from the environment (CI: the machine's servers);
2. TEST_BACKEND=containers and a running Docker engine: testcontainers (the engine of
   $DOCKER_HOST, else the one `make images` started, from .data/docker-host); the images are
   TEST_POSTGRES_IMAGE / TEST_REDIS_IMAGE, else the official ones when present or pullable,
   else the local ones `make images` builds from Debian packages;
3. otherwise real servers from wheels (servicekit.data.embedded) in a temporary folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg
from scripts import build_images

from servicekit.data.embedded import EmbeddedPostgres, EmbeddedRedis
from tests.support.dockerfile import REPO_ROOT

if TYPE_CHECKING:
    from docker import DockerClient


@dataclass(frozen=True)
class Backends:
    postgres_url: str  # server URL; tests create their own databases on it
    redis_url: str


OFFICIAL_IMAGES = {"postgres": "postgres:17-alpine", "redis": "redis:7-alpine"}
LOCAL_IMAGES = {"postgres": build_images.POSTGRES_IMAGE, "redis": build_images.REDIS_IMAGE}


def _present_or_pulled(client: DockerClient, image: str) -> bool:
    import docker.errors  # noqa: PLC0415 - only with TEST_BACKEND=containers

    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        try:
            client.images.pull(image)
        except docker.errors.APIError:  # no registry reachable (or no such image)
            return False
    return True


def container_image(client: DockerClient, kind: str) -> str:
    configured = os.environ.get(f"TEST_{kind.upper()}_IMAGE")
    if configured:
        return configured
    official = OFFICIAL_IMAGES[kind]
    return official if _present_or_pulled(client, official) else LOCAL_IMAGES[kind]


@contextlib.contextmanager
def _containers() -> Iterator[Backends]:
    from docker import DockerClient  # noqa: PLC0415
    from testcontainers.community.postgres import PostgresContainer  # noqa: PLC0415
    from testcontainers.community.redis import RedisContainer  # noqa: PLC0415
    from testcontainers.core.config import (  # noqa: PLC0415 - optional, slow import
        testcontainers_config,
    )
    from testcontainers.core.network import Network  # noqa: PLC0415

    saved_host = REPO_ROOT / ".data" / "docker-host"
    if not os.environ.get("DOCKER_HOST") and saved_host.exists():
        os.environ["DOCKER_HOST"] = saved_host.read_text().strip()
    client = DockerClient.from_env()
    if not _present_or_pulled(client, testcontainers_config.ryuk_image):
        # The reaper only removes what a killed run leaves; the context managers below remove
        # the containers and the network of a run that ends.
        testcontainers_config.ryuk_disabled = True
    # A network of its own: an engine started with --bridge=none has no default bridge.
    with (
        Network() as network,
        PostgresContainer(container_image(client, "postgres"), driver=None).with_network(
            network
        ) as pg,
        RedisContainer(container_image(client, "redis")).with_network(network) as rd,
    ):
        host, port = rd.get_container_host_ip(), rd.get_exposed_port(6379)
        yield Backends(pg.get_connection_url(), f"redis://{host}:{port}/0")


@contextlib.contextmanager
def _embedded() -> Iterator[Backends]:
    root = Path(tempfile.mkdtemp(prefix="servicekit-tests-"))
    try:
        with (
            EmbeddedPostgres(root / "pg") as pg,
            EmbeddedRedis(root / "redis", persist=False) as rd,
        ):
            yield Backends(pg.url(), rd.url())
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def open_backends() -> Iterator[Backends]:
    db, redis = os.environ.get("TEST_DATABASE_URL"), os.environ.get("TEST_REDIS_URL")
    if db and redis:
        yield Backends(db, redis)
    elif os.environ.get("TEST_BACKEND") == "containers":
        with _containers() as backends:
            yield backends
    else:
        with _embedded() as backends:
            yield Backends(db or backends.postgres_url, redis or backends.redis_url)


def with_database(server_url: str, database: str) -> str:
    """The same server URL pointing at another database."""
    base, _, _ = server_url.rpartition("/")
    return f"{base}/{database}"


def asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def create_database(server_url: str, prefix: str) -> str:
    """Create a fresh database named `<prefix>_<random>` and return its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(asyncpg_dsn(with_database(server_url, "postgres")))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return with_database(server_url, name)


async def drop_database(url: str) -> None:
    server, _, name = url.rpartition("/")
    conn = await asyncpg.connect(asyncpg_dsn(f"{server}/postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
