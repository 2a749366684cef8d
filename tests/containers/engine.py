"""The Docker engine and the local images the containers tier runs, through Debian's client.

`open_engine` finds or starts an engine with scripts/docker_engine.py (the one `make images`
uses) and builds missing images with scripts/build_images.py, so `pytest tests/containers` also
runs alone. It raises `EngineUnavailableError` only where no engine can start (not root, no
docker.io package): the tier is skipped with that reason.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from scripts import build_images
from scripts.docker_engine import DOCKER, EngineUnavailableError, ensure_engine

from tests.support.dockerfile import REPO_ROOT

__all__ = ["Engine", "EngineUnavailableError", "open_engine"]

SERVICE_IMAGES = {service: f"{service}-service:local" for service in ("auth", "orders")}
POSTGRES_IMAGE = build_images.POSTGRES_IMAGE
REDIS_IMAGE = build_images.REDIS_IMAGE
BUILD_TIMEOUT_S = 1800.0  # a cold build on vfs, debootstrap included


@dataclass(frozen=True)
class Engine:
    host: str  # DOCKER_HOST URL

    def env(self) -> dict[str, str]:
        return {"DOCKER_HOST": self.host, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}

    def run(
        self, *args: str, check: bool = True, timeout: float = 120, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [DOCKER, *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            input=stdin,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"docker {' '.join(args[:3])} ...: {result.stderr[-2000:]}")
        return result

    def inspect(self, name: str) -> dict[str, Any]:
        value = json.loads(self.run("inspect", name).stdout)[0]
        assert isinstance(value, dict)
        return value

    def has_image(self, name: str) -> bool:
        return self.run("image", "inspect", name, check=False).returncode == 0

    def image_size(self, name: str) -> int:
        return int(self.run("image", "inspect", "--format", "{{.Size}}", name).stdout)

    def published_port(self, container: str, port: int) -> int:
        """The host port of `-p 127.0.0.1::<port>` (loopback only)."""
        out = self.run("port", container, f"{port}/tcp").stdout.split()[0]
        address, _, host_port = out.rpartition(":")
        assert address == "127.0.0.1", out
        return int(host_port)

    def exit_code(self, container: str) -> int:
        return int(self.inspect(container)["State"]["ExitCode"])

    def logs(self, container: str) -> str:
        result = self.run("logs", "--tail", "60", container, check=False)
        return (result.stdout + result.stderr)[-4000:]

    def wait_exec(self, container: str, argv: list[str], timeout_s: float) -> None:
        """Run `argv` in the container until it succeeds (a readiness command), to a deadline."""
        deadline = time.monotonic() + timeout_s
        while True:
            result = self.run("exec", container, *argv, check=False)
            if result.returncode == 0:
                return
            state = self.inspect(container)["State"]
            if not state["Running"]:
                raise AssertionError(f"{container} exited:\n{self.logs(container)}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{argv} never passed in {container}:\n{self.logs(container)}")
            time.sleep(0.5)


def open_engine() -> Engine:
    engine = Engine(ensure_engine())
    wanted = [*SERVICE_IMAGES.values(), POSTGRES_IMAGE, REDIS_IMAGE]
    if not all(engine.has_image(name) for name in wanted):
        subprocess.run(
            [sys.executable, str(REPO_ROOT / "scripts" / "build_images.py")],
            check=True,
            timeout=BUILD_TIMEOUT_S,
        )
    return engine
