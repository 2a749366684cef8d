"""`make images`: both services' images, and the local base images they need, in a local engine.

No image registry needs to answer. The bases come from Debian and PyPI instead:
- the Python base: `debootstrap --variant=minbase` of bookworm (python3, python3-venv,
  ca-certificates) from the mirror apt uses, with this machine's CA bundle as the system bundle
  and SSL_CERT_FILE set (uv in the build reaches the package index through whatever this machine
  trusts), imported with `docker import`;
- uv: the binary of its PyPI wheel (`uv-<v>.data/scripts/uv`), imported as a one-file image;
- PostgreSQL and Redis (compose and the containers tests): docker-images/postgres and /redis,
  Debian's packages on the Python base.
Each base is built only when the engine does not have it (the engine's data root is the cache),
so a second run rebuilds only what changed in the services' layers.

    python scripts/build_images.py         (DOCKER_HOST: see scripts/docker_engine.py)
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

# `python scripts/build_images.py` puts scripts/ on sys.path; the package import needs the root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.docker_engine import (
    DOCKER,
    ENGINE_DIR,
    REPO_ROOT,
    EngineUnavailableError,
    ensure_engine,
)

SERVICES = ("auth", "orders")
SUITE = "bookworm"
PYTHON_BASE = "auth-orders/python:3.11-bookworm"
POSTGRES_IMAGE = "auth-orders/postgres:15-bookworm"
REDIS_IMAGE = "auth-orders/redis:7-bookworm"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
IMAGE_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def uv_version() -> str:
    """The uv the Dockerfile's default UV_IMAGE names, so local and official builds agree."""
    text = (REPO_ROOT / "Dockerfile").read_text()
    match = re.search(r"^ARG UV_IMAGE=\S+:(\S+)$", text, re.MULTILINE)
    if match is None:
        raise SystemExit("Dockerfile: no `ARG UV_IMAGE=...:<version>`")
    return match.group(1)


def uv_image() -> str:
    return f"auth-orders/uv:{uv_version()}"


def _docker(host: str, *args: str, **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "DOCKER_HOST": host, "DOCKER_BUILDKIT": "1"}
    return subprocess.run([DOCKER, *args], env=env, check=True, **kwargs)  # type: ignore[call-overload, no-any-return]


def has_image(host: str, name: str) -> bool:
    env = {**os.environ, "DOCKER_HOST": host}
    probe = subprocess.run([DOCKER, "image", "inspect", name], env=env, capture_output=True)
    return probe.returncode == 0


def apt_mirror() -> str:
    """The first Debian mirror apt is configured with for the suite (deb822 or one-line form)."""
    sources = sorted(Path("/etc/apt/sources.list.d").glob("*.sources"))
    for path in sources:
        for stanza in path.read_text().split("\n\n"):
            fields = dict(
                line.split(":", 1) for line in stanza.splitlines() if re.match(r"^\w[\w-]*:", line)
            )
            if SUITE in fields.get("Suites", "").split():
                return fields["URIs"].split()[0]
    legacy = Path("/etc/apt/sources.list")
    if legacy.exists():
        for line in legacy.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "deb" and parts[2] == SUITE:
                return next(p for p in parts[1:] if p.startswith(("http", "file", "ftp")))
    return "http://deb.debian.org/debian"


def build_python_base(host: str) -> None:
    rootfs = ENGINE_DIR / "bases" / "python-rootfs"
    marker = rootfs / ".complete"
    if not marker.exists():
        shutil.rmtree(rootfs, ignore_errors=True)
        rootfs.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                "--include=python3,python3-venv,ca-certificates",
                SUITE,
                str(rootfs),
                apt_mirror(),
            ],
            check=True,
        )
        marker.touch()
    # This machine's trust (a proxy's CA included) replaces the package's bundle.
    shutil.copyfile(HOST_CA_BUNDLE, rootfs / IMAGE_CA_BUNDLE.lstrip("/"))
    for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for entry in (rootfs / cache).glob("*"):
            if entry.is_file():
                entry.unlink()
    tar = subprocess.Popen(
        ["tar", "-C", str(rootfs), "--exclude=./.complete", "-c", "."], stdout=subprocess.PIPE
    )
    _docker(
        host,
        "import",
        "--change",
        f"ENV PATH={BASE_PATH}",
        "--change",
        f"ENV SSL_CERT_FILE={IMAGE_CA_BUNDLE}",
        "--change",
        "ENV LANG=C.UTF-8",
        "--change",
        'CMD ["python3"]',
        "-",
        PYTHON_BASE,
        stdin=tar.stdout,
        stdout=subprocess.DEVNULL,
    )
    if tar.wait() != 0:
        raise SystemExit("tar of the debootstrap root failed")


def build_uv_image(host: str) -> None:
    """uv's PyPI wheel, installed by uv into a folder of its own; its one binary is the image."""
    version = uv_version()
    target = ENGINE_DIR / "bases" / f"uv-{version}"
    binary = target / "bin" / "uv"
    if not binary.exists():
        uv = shutil.which("uv") or str(REPO_ROOT / ".tools" / "uv" / "bin" / "uv")
        subprocess.run(
            [
                uv,
                "pip",
                "install",
                "--no-deps",
                "--python-platform",
                "x86_64-manylinux_2_17",
                "--target",
                str(target),
                f"uv=={version}",
            ],
            check=True,
        )
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        tar.add(binary, arcname="uv")
    _docker(host, "import", "-", uv_image(), input=archive.getvalue(), stdout=subprocess.DEVNULL)


def build_from_debian(host: str, name: str, folder: str) -> None:
    _docker(
        host,
        "build",
        "--network=host",
        "--build-arg",
        f"BASE_IMAGE={PYTHON_BASE}",
        "-t",
        name,
        str(REPO_ROOT / "docker-images" / folder),
    )


def build_service(host: str, service: str) -> None:
    _docker(
        host,
        "build",
        "--network=host",
        "--build-arg",
        f"SERVICE={service}",
        "--build-arg",
        f"PYTHON_IMAGE={PYTHON_BASE}",
        "--build-arg",
        f"UV_IMAGE={uv_image()}",
        "-t",
        f"{service}-service:local",
        "-f",
        str(REPO_ROOT / "Dockerfile"),
        str(REPO_ROOT),
    )


def _timed(label: str, step: object, *args: object) -> None:
    started = time.monotonic()
    step(*args)  # type: ignore[operator]
    print(f"build_images: {label} in {time.monotonic() - started:.1f} s", flush=True)


def main() -> int:
    try:
        host = ensure_engine()
    except EngineUnavailableError as exc:
        print(f"build_images: no Docker engine: {exc}", file=sys.stderr)
        return 2
    print(f"build_images: engine {host} (also in .data/docker-host)", flush=True)
    if not has_image(host, PYTHON_BASE):
        _timed(PYTHON_BASE, build_python_base, host)
    if not has_image(host, uv_image()):
        _timed(uv_image(), build_uv_image, host)
    for name, folder in ((POSTGRES_IMAGE, "postgres"), (REDIS_IMAGE, "redis")):
        if not has_image(host, name):
            _timed(name, build_from_debian, host, name, folder)
    for service in SERVICES:
        _timed(f"{service}-service:local", build_service, host, service)
    env = {**os.environ, "DOCKER_HOST": host}
    subprocess.run(
        [DOCKER, "image", "ls", "--format", "{{.Repository}}:{{.Tag}}\t{{.Size}}"],
        env=env,
        check=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
