"""A Docker engine for `make images`, the containers tests and compose: find one or start one.

Order: $DOCKER_HOST if it answers, then the engine this checkout started before (its URL is in
`.data/docker-host`), else a new `dockerd` from Debian's docker.io with everything under
`.data/docker/` (data root, exec root, socket, log). The flags are the ones that work on a machine
without iptables or a default bridge: vfs storage, no iptables, `--bridge=none`; containers use
`--network=host` or a user-defined network. Builds use Debian's client (`/usr/bin/docker`),
whose BuildKit is built in: the newer client often first on PATH has no buildx plugin.

    python scripts/docker_engine.py        prints the DOCKER_HOST URL (starting an engine)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA = REPO_ROOT / ".data"
ENGINE_DIR = DATA / "docker"
HOST_FILE = DATA / "docker-host"
DOCKER = "/usr/bin/docker"  # Debian's docker.io client: BuildKit without a buildx plugin
DOCKERD = "/usr/sbin/dockerd"
COMPOSE = "/usr/bin/docker-compose"
PACKAGES = ("docker.io", "docker-compose", "debootstrap")
START_TIMEOUT_S = 90.0


class EngineUnavailableError(RuntimeError):
    """No engine answers and none can be started here (the message says why)."""


def _missing_packages() -> list[str]:
    return [
        name
        for name in PACKAGES
        if subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", name], capture_output=True, text=True
        ).stdout
        != "install ok installed"
    ]


def ensure_packages() -> None:
    """apt-get install what is missing; only root can, so anyone else gets the command to run."""
    missing = _missing_packages() if shutil.which("dpkg-query") else list(PACKAGES)
    if not missing:
        return
    if not shutil.which("apt-get"):
        raise EngineUnavailableError(f"no apt-get to install {' '.join(missing)}")
    if os.geteuid() != 0:
        raise EngineUnavailableError(
            f"not root, and {' '.join(missing)} not installed: run as root "
            f"`apt-get install -y {' '.join(PACKAGES)}` (dockerd needs root)"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(
        ["apt-get", "install", "-y", "--no-install-recommends", *missing], check=True, env=env
    )


def answers(host: str) -> bool:
    if not Path(DOCKER).exists():
        return False
    try:
        result = subprocess.run(
            [DOCKER, "-H", host, "version", "--format", "{{.Server.Version}}"],
            capture_output=True,
            timeout=10,
        )
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0


def _start_dockerd() -> str:
    if os.geteuid() != 0:
        raise EngineUnavailableError("not root: dockerd cannot start here")
    for sub in ("root", "exec"):
        (ENGINE_DIR / sub).mkdir(parents=True, exist_ok=True)
    socket = ENGINE_DIR / "docker.sock"
    host = f"unix://{socket}"
    log = (ENGINE_DIR / "dockerd.log").open("ab")
    # A session of its own: the engine outlives `make images` and serves the tests and compose
    # afterwards; `python scripts/docker_engine.py stop` ends it.
    process = subprocess.Popen(
        [
            DOCKERD,
            "--iptables=false",
            "--ip6tables=false",
            "--bridge=none",
            "--storage-driver=vfs",
            "--data-root",
            str(ENGINE_DIR / "root"),
            "--exec-root",
            str(ENGINE_DIR / "exec"),
            "--pidfile",
            str(ENGINE_DIR / "dockerd.pid"),
            "-H",
            host,
        ],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EngineUnavailableError(
                f"dockerd exited with {process.returncode}: see {ENGINE_DIR / 'dockerd.log'}"
            )
        if answers(host):
            return host
        time.sleep(0.5)
    raise EngineUnavailableError(f"dockerd did not answer within {START_TIMEOUT_S:.0f} s")


def ensure_engine() -> str:
    """The URL of an engine that answers (started when needed); also in .data/docker-host."""
    candidates = [os.environ.get("DOCKER_HOST", "")]
    if HOST_FILE.exists():
        candidates.append(HOST_FILE.read_text().strip())
    for host in filter(None, candidates):
        if answers(host):
            break
    else:
        ensure_packages()
        host = _start_dockerd()
    DATA.mkdir(exist_ok=True)
    HOST_FILE.write_text(host + "\n")
    return host


def stop_engine() -> None:
    """Stop the engine this checkout started (SIGTERM; dockerd stops its containers)."""
    pidfile = ENGINE_DIR / "dockerd.pid"
    if pidfile.exists():
        pid = int(pidfile.read_text().strip())
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 15)


def main(argv: list[str]) -> int:
    try:
        if argv[1:2] == ["stop"]:
            stop_engine()
            return 0
        print(ensure_engine())
    except EngineUnavailableError as exc:
        print(f"docker_engine: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
