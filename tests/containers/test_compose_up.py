"""compose.yaml, brought up by Debian's docker-compose 1.29 with the local images: the README
tour (a user, a token, an item created, the list) against it, then `down -v`.

The settings are .env.example's, plus the local image names, free loopback ports and a project
name of the test's own, in an env file outside the repository (a user's .env is never read or
written).
"""

from __future__ import annotations

import json
import secrets
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml
from scripts import build_images
from scripts.docker_engine import COMPOSE

from servicekit.data.embedded import free_port
from tests.containers.engine import Engine
from tests.support.dockerfile import REPO_ROOT

COMPOSE_FILE = REPO_ROOT / "compose.yaml"


@dataclass
class Project:
    engine: Engine
    name: str
    env_file: Path
    ports: dict[str, int]

    def compose(
        self, *args: str, timeout: float = 300, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                COMPOSE,
                "--project-name",
                self.name,
                "--env-file",
                str(self.env_file),
                "--file",
                str(COMPOSE_FILE),
                *args,
            ],
            env=self.engine.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            input=stdin,
            cwd=REPO_ROOT,
        )

    def container(self, service: str) -> str:
        return self.compose("ps", "-q", service).stdout.strip()


def _health_budget_s(service: str) -> float:
    """start_period + retries x interval of the service's healthcheck in compose.yaml."""
    check = yaml.safe_load(COMPOSE_FILE.read_text())["services"][service]["healthcheck"]

    def seconds(value: str) -> float:
        return float(value.rstrip("s"))

    retries = int(check["retries"])
    return seconds(check.get("start_period", "0s")) + retries * seconds(check["interval"])


@pytest.fixture(scope="module")
def project(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    folder = tmp_path_factory.mktemp("compose")
    ports = {"auth": free_port(), "orders": free_port()}
    env_file = folder / "compose.env"
    env_file.write_text(
        (REPO_ROOT / ".env.example").read_text()
        + f"\nPOSTGRES_IMAGE={build_images.POSTGRES_IMAGE}\n"
        f"REDIS_IMAGE={build_images.REDIS_IMAGE}\n"
        f"PYTHON_IMAGE={build_images.PYTHON_BASE}\n"
        f"UV_IMAGE={build_images.uv_image()}\n"
        f"AUTH_HOST_PORT={ports['auth']}\nORDERS_HOST_PORT={ports['orders']}\n"
    )
    project = Project(engine, f"ct{uuid.uuid4().hex[:8]}", env_file, ports)
    up = project.compose("up", "--detach", "--no-build", timeout=600)
    try:
        assert up.returncode == 0, up.stderr[-3000:]
        yield project
    finally:
        down = project.compose("down", "--volumes", "--remove-orphans", timeout=300)
        assert down.returncode == 0, down.stderr[-2000:]


def _wait_healthy(project: Project, service: str) -> None:
    container = project.container(service)
    assert container, f"no {service} container:\n{project.compose('ps').stdout}"
    deadline = time.monotonic() + _health_budget_s(service)
    while True:
        state = project.engine.inspect(container)["State"]
        status = state.get("Health", {}).get("Status")
        if status == "healthy":
            return
        if status == "unhealthy" or not state["Running"] or time.monotonic() > deadline:
            logs = project.compose("logs", "--tail", "40", timeout=60).stdout[-4000:]
            pytest.fail(f"{service}: {status}, running={state['Running']}\n{logs}")
        time.sleep(0.5)


def test_compose_up_serves_the_readme_tour(project: Project) -> None:
    for service in ("postgres", "redis", "auth", "orders"):
        _wait_healthy(project, service)
    for migration in ("auth-migrate", "orders-migrate"):
        state = project.engine.inspect(project.container(migration))["State"]
        assert state["ExitCode"] == 0, project.compose("logs", migration).stdout[-3000:]
    password = secrets.token_urlsafe(16)
    created_user = project.compose(
        "exec",
        "-T",
        "auth",
        "auth-service",
        "users",
        "create",
        "--email",
        "admin@example.com",
        "--role",
        "admin",
        "--tenant",
        "acme",
        stdin=password + "\n",
    )
    assert created_user.returncode == 0, created_user.stderr[-2000:]
    auth = f"http://127.0.0.1:{project.ports['auth']}"
    orders = f"http://127.0.0.1:{project.ports['orders']}"
    token_response = httpx.post(
        auth + "/oauth/token",
        data={"grant_type": "password", "username": "admin@example.com", "password": password},
        timeout=10,
    )
    assert token_response.status_code == 200, token_response.text
    headers = {"Authorization": f"Bearer {token_response.json()['access_token']}"}
    item = {
        "sku": "MUG-1",
        "name": "Mug",
        "description": "A mug",
        "price": {"amount": "12.50", "currency": "BRL"},
        "category": "kitchen",
        "tags": ["ceramic"],
        "quantity": 3,
    }
    created = httpx.post(orders + "/api/v1/items", json=item, headers=headers, timeout=10)
    assert created.status_code == 201, created.text
    listed = httpx.get(
        orders + "/api/v1/items", params={"category": "kitchen"}, headers=headers, timeout=10
    )
    assert listed.status_code == 200, listed.text
    assert [i["sku"] for i in json.loads(listed.text)["items"]] == ["MUG-1"]
