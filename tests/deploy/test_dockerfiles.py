"""The Dockerfiles, read statically and then "built" by replaying them on this machine.

No Docker engine runs here: the static checks read the instructions, and the emulated build
(tests/support/dockerfile.py) runs each `uv sync` exactly as written, from a folder holding only
what the COPY instructions put there, so a missing file, an excluded path or a stale lock fails.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.deploy.conftest import ImageFactory
from tests.support.dockerfile import (
    REPO_ROOT,
    DockerIgnore,
    Stage,
    healthcheck_command,
    image_stages,
    parse_dockerfile,
)
from tests.support.k8s import containers, rendered_case
from tests.support.routes import serves_get

SERVICES = ("auth", "orders")


DOCKERFILE = REPO_ROOT / "Dockerfile"


def _stages(service: str) -> list[Stage]:
    """The stages `docker build --build-arg SERVICE=<service> .` builds, the last one folded."""
    return image_stages(DOCKERFILE, {"SERVICE": service})


def test_one_dockerfile_builds_both_services_without_a_registry_frontend() -> None:
    """No `# syntax=` line (it pulls a frontend image), the bases are build arguments whose
    defaults are the official images, and SERVICE has no default: the target stage is named
    by it, so a build without it fails instead of building some service."""
    assert not list((REPO_ROOT / "services").glob("*/Dockerfile")), "one Dockerfile, not copies"
    text = DOCKERFILE.read_text()
    assert "# syntax=" not in text
    defaults = {s.base for s in parse_dockerfile(DOCKERFILE) if s.name in {"uv", "build"}}
    assert defaults == {"ghcr.io/astral-sh/uv:0.13.9", "python:3.11-slim-bookworm"}
    overridden = parse_dockerfile(DOCKERFILE, {"PYTHON_IMAGE": "local/py", "UV_IMAGE": "local/uv"})
    assert {s.base for s in overridden if s.name in {"uv", "build", "runtime"}} == {
        "local/py",
        "local/uv",
    }
    assert parse_dockerfile(DOCKERFILE)[-1].base == "", "SERVICE must have no default"
    for service in SERVICES:
        names = {s.name for s in _stages(service)}
        other = "orders" if service == "auth" else "auth"
        assert other not in names, f"building {service} would build {other}'s stage"


@pytest.mark.parametrize("service", SERVICES)
def test_final_stage_runs_as_a_non_root_user(service: str) -> None:
    final = _stages(service)[-1]
    user = final.last("USER")
    assert user is not None, "no USER: the container would run as root"
    name = user.args.split(":")[0]
    assert name not in {"root", "0"}
    # the USER comes after everything that needs root in the final stage
    assert final.instructions.index(user) > max(
        final.instructions.index(i) for i in final.instructions if i.keyword in {"RUN", "COPY"}
    )


@pytest.mark.parametrize("service", SERVICES)
def test_cmd_is_exec_form_graceful_runner_of_the_service(service: str) -> None:
    final = _stages(service)[-1]
    cmds = final.all("CMD")
    assert len(cmds) == 1, "the command lives in one place"
    assert final.last("ENTRYPOINT") is None
    cmd = cmds[0].exec_form()  # raises for the shell form (PID 1 would be /bin/sh)
    # `<service> serve` is the console script that runs uvicorn with the service's
    # create_app factory under servicekit's graceful-shutdown runner.
    assert cmd[:2] == [f"{service}-service", "serve"]
    assert cmd[cmd.index("--port") + 1] == "8000"
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0"
    expose = final.last("EXPOSE")
    assert expose is not None
    assert "8000" in expose.args.split()
    stop = final.last("STOPSIGNAL")
    assert stop is not None
    assert stop.args == "SIGTERM"


@pytest.mark.parametrize("service", SERVICES)
def test_healthcheck_is_exec_form_on_a_served_route(service: str) -> None:
    command = healthcheck_command(_stages(service)[-1])
    url = next(part for part in command[-1].split("'") if part.startswith("http://"))
    assert url.startswith("http://127.0.0.1:8000/")
    assert serves_get(service, url)


@pytest.mark.parametrize("service", SERVICES)
def test_two_uv_steps_dependencies_before_code(service: str) -> None:
    """The dependency layer is built from manifests and the lock only, so it stays cached
    until they change; the code is copied after it."""
    build = next(s for s in _stages(service) if s.all("RUN"))
    syncs = [i for i in build.all("RUN") if "uv sync" in i.args]
    assert len(syncs) == 2
    deps, code = syncs
    for sync in syncs:
        assert "--frozen" in sync.args
        assert "--no-dev" in sync.args
    assert "--no-install-workspace" in deps.args
    assert "--no-editable" in code.args
    copies_before = [
        i
        for i in build.instructions
        if i.keyword == "COPY" and i.line < deps.line and "from" not in i.flags
    ]
    sources = [src for i in copies_before for src in i.args.split()[:-1]]
    assert all(s.endswith(("pyproject.toml", "uv.lock")) for s in sources), sources
    copies_between = [i for i in build.all("COPY") if deps.line < i.line < code.line]
    assert any(f"services/{service}/src" in i.args for i in copies_between)


@pytest.mark.parametrize("service", SERVICES)
def test_final_stage_has_no_build_tools(service: str) -> None:
    stages = _stages(service)
    final = stages[-1]
    builder_names = {s.name for s in stages[:-1]}
    for ins in final.all("COPY"):
        source_stage = ins.flags.get("from")
        if source_stage:
            assert source_stage in builder_names
            assert ins.args.split()[0] == "/app/.venv", "only the virtualenv comes from the build"
    for ins in final.all("RUN"):
        assert "uv" not in ins.args.split()
        assert "apt-get" not in ins.args
        assert "pip" not in ins.args
    assert "slim" in final.base


@pytest.mark.parametrize("service", SERVICES)
def test_every_copied_path_exists_and_is_in_the_context(service: str) -> None:
    ignore = DockerIgnore.load(REPO_ROOT)
    for stage in _stages(service):
        for ins in stage.all("COPY"):
            if "from" in ins.flags:
                continue
            for source in ins.args.split()[:-1]:
                assert (REPO_ROOT / source).exists(), f"line {ins.line}: {source} does not exist"
                assert not ignore.excludes(source), f"line {ins.line}: {source} is in .dockerignore"


def test_dockerignore_keeps_local_state_out_of_the_context() -> None:
    ignore = DockerIgnore.load(REPO_ROOT)
    for path in [
        ".venv/bin/python",
        ".git/HEAD",
        ".env",
        ".data/pg",
        "tests/conftest.py",
        "shared/src/servicekit/__pycache__/x.pyc",
        ".tools/uv/bin/uv",
    ]:
        assert ignore.excludes(path), path
    for path in [
        "uv.lock",
        "pyproject.toml",
        "shared/src/servicekit/web/app.py",
        "migrations/alembic.ini",
    ]:
        assert not ignore.excludes(path), path


@pytest.mark.parametrize("service", SERVICES)
def test_image_builds_with_frozen_uv_sync(service: str, service_image: ImageFactory) -> None:
    """Both `uv sync --frozen` steps succeed here; the result is a self-contained venv with the
    service's console script, its migrations, and no dev or workspace-editable leftovers."""
    image = service_image(service)
    venv = image.host_path("/app/.venv")
    assert (venv / "bin" / f"{service}-service").exists()
    assert (venv / "bin" / "uvicorn").exists()
    assert (venv / "bin" / "alembic").exists()
    site = next((venv / "lib").glob("python3*/site-packages"))
    assert not list(site.glob("pytest*")), "dev dependencies in the image"
    assert not list(site.glob("*.pth")) or all(
        "/src" not in p.read_text() for p in site.glob("*.pth")
    ), "an editable install points at the build stage's source"
    other = "orders" if service == "auth" else "auth"
    assert not (site / f"{other}_service").exists(), "the other service is in this image"
    env = image.runtime_env({})
    ini = Path(env["SERVICEKIT_ALEMBIC_INI"])
    assert ini.is_file()
    assert f"[{service}]" in ini.read_text()
    assert (ini.parent / service / "versions").is_dir()
    assert not (ini.parent / other).exists(), "the other service's migrations are in this image"


@pytest.mark.parametrize("service", SERVICES)
def test_console_script_and_app_import_from_the_image(
    service: str, service_image: ImageFactory
) -> None:
    image = service_image(service)
    env = image.runtime_env({"HOME": "/nonexistent"})
    out = subprocess.run(
        image.resolve([f"{service}-service", "--help"], env),
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert "migrate" in out.stdout
    probe = subprocess.run(
        image.resolve(
            [
                "python",
                "-c",
                f"import json, {service}_service.main as m; print(json.dumps(m.__file__))",
            ],
            env,
        ),
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=image.host_path(image.workdir),
    )
    assert "/app/.venv/lib/" in json.loads(probe.stdout), "the app is not the installed wheel"


def _cronjob_commands() -> list[list[str]]:
    rendered = rendered_case("auth", "defaults")
    return [containers(cj)[0]["command"] for cj in rendered.of_kind("CronJob")]


@pytest.mark.parametrize("command", _cronjob_commands(), ids=lambda c: " ".join(c))
def test_key_cronjob_command_exists_in_the_image(
    command: list[str], service_image: ImageFactory
) -> None:
    """The CronJob's command is a real subcommand of the image's console script (`--help`
    parses it without touching a database). Fails until `auth-service keys ...` exists."""
    image = service_image("auth")
    env = image.runtime_env({"HOME": "/nonexistent"})
    result = subprocess.run(
        image.resolve([*command, "--help"], env),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
