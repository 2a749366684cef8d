"""compose.yaml: valid against the Compose Specification, and wired the way the services need.

Compose interpolates `${VAR}` from `.env`; the tests interpolate with `.env.example` (what a
newcomer copies) using Compose's rules, then check the result.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from tests.support.dockerfile import REPO_ROOT, env_pairs, image_stages
from tests.support.routes import serves_get

SCHEMAS = REPO_ROOT.parent / "shared" / "schemas"
COMPOSE = REPO_ROOT / "compose.yaml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
SERVICES = ("auth", "orders")
_VAR = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


class MissingVariableError(KeyError):
    pass


def read_env_file(path: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep, f"{path.name}: not NAME=value: {line}"
        env[name.strip()] = value.strip()
    return env


def interpolate(node: Any, env: Mapping[str, str]) -> Any:
    """Compose interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, $$."""
    if isinstance(node, dict):
        return {k: interpolate(v, env) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate(v, env) for v in node]
    if not isinstance(node, str):
        return node

    def repl(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match["name"], match["op"], match["arg"]
        value = env.get(name)
        if op in (":-", "-"):
            empty = value is None or (op == ":-" and value == "")
            return arg if empty else str(value)
        if op in (":?", "?"):
            if value is None or (op == ":?" and value == ""):
                raise MissingVariableError(f"{name}: {arg}")
            return value
        return value or ""

    return _VAR.sub(repl, node)


def variables_used(node: Any) -> dict[str, str | None]:
    """Variable name -> its operator (None for a bare ${VAR})."""
    found: dict[str, str | None] = {}
    if isinstance(node, dict):
        for v in node.values():
            found.update(variables_used(v))
    elif isinstance(node, list):
        for v in node:
            found.update(variables_used(v))
    elif isinstance(node, str):
        for match in _VAR.finditer(node):
            if match["name"]:
                found[match["name"]] = match["op"]
    return found


def _raw() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def _compose() -> dict[str, Any]:
    resolved = interpolate(_raw(), read_env_file(ENV_EXAMPLE))
    assert isinstance(resolved, dict)
    return resolved


def _services() -> dict[str, Any]:
    services: dict[str, Any] = _compose()["services"]
    return services


def test_compose_validates_against_the_compose_spec() -> None:
    schema = json.loads((SCHEMAS / "compose-spec.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    for document in (_raw(), _compose()):
        errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(document), key=str)
        assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]


def test_the_validation_can_fail() -> None:
    schema = json.loads((SCHEMAS / "compose-spec.json").read_text())
    broken = _compose()
    broken["services"]["auth"]["depends_on"]["postgres"]["condition"] = "service_ready"
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken))


def test_every_required_variable_has_a_local_default() -> None:
    """A variable without a default in compose.yaml must be set in .env.example; without
    .env the stack refuses to start with a message instead of running with blanks."""
    example = read_env_file(ENV_EXAMPLE)
    for name, op in variables_used(_raw()).items():
        if op in (":-", "-"):
            continue
        assert example.get(name), f"{name} missing from .env.example"
    with pytest.raises(MissingVariableError):
        interpolate(_raw(), {})


def test_no_secret_is_written_in_compose_yaml() -> None:
    """Passwords, URLs with credentials and the key-encryption key only come from variables."""
    for name, service in _raw()["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|DATABASE_URL|REDIS_URL|KEY_ENCRYPTION_KEY", key):
                assert str(value).startswith("${"), (name, key)
                assert ":-" not in str(value), (name, key)


def test_local_key_encryption_key_is_32_bytes_for_development_only() -> None:
    example = read_env_file(ENV_EXAMPLE)
    assert len(base64.b64decode(example["AUTH_KEY_ENCRYPTION_KEY"], validate=True)) == 32
    assert example["APP_ENVIRONMENT"] in {"development", "test"}


def test_databases_and_redis_are_the_compose_servers() -> None:
    """The URLs point at the compose services, and at the roles and passwords the PostgreSQL
    init script creates from the postgres service's environment."""
    services = _services()
    pg_env = services["postgres"]["environment"]
    created = pg_env["APP_DATABASES"].split()
    init_mount = next(
        v for v in services["postgres"]["volumes"] if "docker-entrypoint-initdb.d" in v
    )
    assert (REPO_ROOT / init_mount.split(":")[0]).is_file()
    for service in SERVICES:
        url = urlsplit(services[service]["environment"][f"{service.upper()}_DATABASE_URL"])
        assert url.hostname == "postgres"
        assert url.port == 5432
        database = url.path.lstrip("/")
        assert database in created
        assert url.username == database
        assert url.password == pg_env[f"{database.upper()}_DB_PASSWORD"]
    redis = urlsplit(services["orders"]["environment"]["ORDERS_REDIS_URL"])
    assert redis.hostname == "redis"
    assert redis.port == 6379


def test_orders_verifies_tokens_through_auths_jwks() -> None:
    env = _services()["orders"]["environment"]
    assert env["ORDERS_JWKS_URL"] == "http://auth:8000/.well-known/jwks.json"
    assert env["ORDERS_JWT_ISSUER"] == _services()["auth"]["environment"]["AUTH_ISSUER"]
    assert env["ORDERS_JWT_AUDIENCE"] == _services()["auth"]["environment"]["AUTH_AUDIENCE"]


def test_start_order_waits_for_health_and_migrations() -> None:
    services = _services()
    expected = {
        "auth-migrate": {"postgres": "service_healthy"},
        "orders-migrate": {"postgres": "service_healthy"},
        "auth": {"postgres": "service_healthy", "auth-migrate": "service_completed_successfully"},
        "orders": {
            "postgres": "service_healthy",
            "redis": "service_healthy",
            "orders-migrate": "service_completed_successfully",
            "auth": "service_healthy",
        },
    }
    for name, deps in expected.items():
        got = {dep: spec["condition"] for dep, spec in services[name]["depends_on"].items()}
        assert got == deps, name
    for name, service in services.items():
        for dep, spec in (service.get("depends_on") or {}).items():
            if spec["condition"] == "service_healthy":
                assert "test" in services[dep]["healthcheck"], f"{name} waits on {dep}'s health"


def test_data_lives_in_named_volumes() -> None:
    compose = _compose()
    for service, path in (("postgres", "/var/lib/postgresql/data"), ("redis", "/data")):
        volume = next(v for v in compose["services"][service]["volumes"] if v.endswith(":" + path))
        assert volume.split(":")[0] in compose["volumes"]


@pytest.mark.parametrize("service", SERVICES)
def test_migration_service_runs_the_images_alembic(service: str) -> None:
    spec = _services()[f"{service}-migrate"]
    assert spec["restart"] == "no"
    assert spec["build"]["dockerfile"] == "Dockerfile"
    assert spec["build"]["args"]["SERVICE"] == service
    command = spec["command"]
    final = image_stages(REPO_ROOT / spec["build"]["dockerfile"], spec["build"]["args"])[-1]
    image_env: dict[str, str] = {}
    for ins in final.all("ENV"):
        image_env.update(env_pairs(ins, image_env))
    assert command[:3] == ["alembic", "-c", image_env["SERVICEKIT_ALEMBIC_INI"]]
    assert command[3:] == ["-n", service, "upgrade", "head"]
    assert set(spec["environment"]) == {f"{service.upper()}_DATABASE_URL"}


@pytest.mark.parametrize("service", SERVICES)
def test_service_healthcheck_targets_a_route_the_app_serves(service: str) -> None:
    spec = _services()[service]
    test = spec["healthcheck"]["test"]
    assert test[0] == "CMD"
    url = next(part for part in test[-1].split("'") if part.startswith("http://"))
    assert url.startswith("http://127.0.0.1:8000/")
    assert urlsplit(url).path == "/health/ready", "compose gates depends_on on readiness"
    assert serves_get(service, url), f"{service} has no GET {url}"


@pytest.mark.parametrize("service", SERVICES)
def test_service_is_published_and_stops_gracefully(service: str) -> None:
    spec = _services()[service]
    env = spec["environment"]
    grace = int(spec["stop_grace_period"].rstrip("s"))
    prefix = service.upper()
    assert grace > float(env[f"{prefix}_DRAIN_WINDOW_S"]) + float(
        env[f"{prefix}_GRACEFUL_TIMEOUT_S"]
    )
    address, host_port, container_port = spec["ports"][0].split(":")
    assert container_port == "8000"
    assert address == "127.0.0.1", "published on loopback only"
    assert host_port == {"auth": "8001", "orders": "8002"}[service]
    assert spec["read_only"] is True
    assert "ALL" in spec["cap_drop"]
